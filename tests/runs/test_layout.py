"""Run directories: numbering never reuses a number, even for runs started together."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from gankit.errors import GankitWarning
from gankit.runs.layout import create_run_dir
from gankit.util.jsonfile import DamagedFile, read_jsonl


def test_numbers_are_unique_and_increasing(tmp_path):
    a = create_run_dir(tmp_path, "dcgan")
    b = create_run_dir(tmp_path, "dcgan")
    c = create_run_dir(tmp_path, "weird name/with slash")
    assert [a.path.name, b.path.name, c.path.name] == ["0001-dcgan", "0002-dcgan", "0003-weird-name-with-slash"]
    assert all((r.path / sub).is_dir() for r in (a, b, c) for sub in ("samples", "plots", "checkpoints"))


def test_concurrent_runs_get_distinct_numbers(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda i: create_run_dir(tmp_path, f"r{i}"), range(16)))
    numbers = sorted(int(r.path.name[:4]) for r in runs)
    assert numbers == list(range(1, 17))


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    f = tmp_path / "stats.jsonl"
    f.write_text('{"step": 1}\n{"step": 2}\n{"st')
    with pytest.warns(GankitWarning, match="stats.jsonl: its last line is torn"):
        assert read_jsonl(f) == [{"step": 1}, {"step": 2}]


@pytest.mark.parametrize("text, where", [('{"step": 1}\n{"st\n{"step": 3}\n', ":2: is not valid JSON"),
                                         ('{"step": 1}\n{"st\n', ":2: is not valid JSON"),  # complete line: damage
                                         ('{"step": 1}\n[1]\n', ":2: holds a JSON list, not a row object")])
def test_damage_anywhere_else_is_one_line_naming_the_line(tmp_path, text, where):
    f = tmp_path / "stats.jsonl"
    f.write_text(text)
    with pytest.raises(DamagedFile, match=re.escape(f"{f}{where}")):
        read_jsonl(f)


def test_merge_metrics_is_the_one_way_metrics_json_is_written(tmp_path):
    from gankit.runs.layout import CHECK_KEYS

    run = create_run_dir(tmp_path, "m")
    assert run.read_metrics() == {}
    run.merge_metrics({"fid": 9.0, "cas": {"n": 1}, "privacy": {"n": 2}})
    # `gankit evaluate` replaces its own figures and keeps the --cas/--privacy results
    run.merge_metrics({"fid": 3.0, "kid_mean": 0.1}, keep=CHECK_KEYS)
    assert run.read_metrics() == {"fid": 3.0, "kid_mean": 0.1, "cas": {"n": 1}, "privacy": {"n": 2}}
    run.metrics_file.write_text("[1, 2")  # damaged: one line naming it, and never replaced unread
    with pytest.raises(DamagedFile, match="metrics.json: is not valid JSON .* delete it and run `gankit evaluate"):
        run.merge_metrics({"cas": {"n": 5}})
    assert run.metrics_file.read_text() == "[1, 2"


def test_run_and_study_directories_own_their_file_names(tmp_path):
    from gankit.runs.layout import StudyDir

    run = create_run_dir(tmp_path, "names")
    assert {p.relative_to(run.path).as_posix() for p in (
        run.config_file, run.stats_file, run.events_file, run.evals_file, run.metrics_file, run.report_file,
        run.trial_file, run.last_checkpoint, run.best_checkpoint, run.walk_strip, run.privacy_pairs)} == {
        "config.json", "stats.jsonl", "events.jsonl", "evals.jsonl", "metrics.json", "report.html", "trial.json",
        "checkpoints/last.safetensors", "checkpoints/best.safetensors", "samples/walk.png",
        "samples/privacy_pairs.png"}
    study = StudyDir(tmp_path / "study")
    assert not study.is_study()
    study.path.mkdir()
    study.study_file.write_text("{}")
    assert study.is_study() and study.trials.name == "trials" and study.db.name == "study.db"
