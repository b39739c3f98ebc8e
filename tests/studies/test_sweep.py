"""Running studies: the trials each search runs, resuming, several workers, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from study_helpers import TINY_SET, tiny_study

from gankit.cli import main
from gankit.runs.layout import read_jsonl
from gankit.studies import load_results, sweep


def executions(study_dir: Path) -> list[dict]:
    return read_jsonl(study_dir / "executions.jsonl")


def write_study_file(path: Path, axes: str, extra: str = "", **sets) -> Path:
    body = "\n".join(f'"{k}" = {json.dumps(v)}' for k, v in {**TINY_SET, **sets}.items())
    path.write_text(f'preset = "dcgan"\neval_n = 200\n{extra}\n[set]\n{body}\n[axes]\n{axes}\n')
    return path


def test_a_grid_study_runs_every_setting_and_seed_once_into_run_directories(fashion, tmp_path, capsys):
    study = tiny_study(axes={"loss.name": ["ns", "hinge"]}, repeats=2)
    out = sweep(study, out=str(tmp_path / "s"), progress=False)
    runs = sorted(p for p in (out / "trials").iterdir())
    assert len(runs) == 4
    for run in runs:  # each trial is an ordinary run directory with its result
        assert (run / "checkpoints" / "last.safetensors").is_file() and (run / "metrics.json").is_file()
        info = json.loads((run / "trial.json").read_text())
        assert info["value"] == json.loads((run / "metrics.json").read_text())["fid"]
    res = load_results(out)
    assert {s.label for s in res.settings} == {"loss=ns", "loss=hinge"}
    assert all(len(s.values) == 2 for s in res.settings)
    assert [e["run"] for e in executions(out)] == [f"trials/{r.name}" for r in runs]
    # planned seed by seed: a study stopped halfway holds every setting at its first seed
    assert [r.name.split("-", 1)[1] for r in runs] == ["loss-ns-r0", "loss-hinge-r0", "loss-ns-r1", "loss-hinge-r1"]
    lines = capsys.readouterr().out.splitlines()  # one line per finished trial with the running best
    assert sum(line.startswith("[") and "fid" in line and "best" in line for line in lines) == 4
    # existing commands work on a trial
    assert main(["generate", str(runs[0]), "--grid", str(tmp_path / "g.png"), "--n", "4"]) == 0

    # re-running the finished study trains nothing
    sweep(study, out=str(out), progress=False)
    assert len(executions(out)) == 4


def test_random_search_runs_the_planned_number_of_distinct_settings(fashion, tmp_path):
    study = tiny_study(axes={"loss.name": ["ns", "hinge", "lsgan"]}, search="random", trials=2, seed=3)
    out = sweep(study, out=str(tmp_path / "s"), progress=False)
    labels = [t.label for t in load_results(out).trials]
    assert len(labels) == 2 and len(set(labels)) == 2
    assert set(labels) == {study.label(p) for p in study.settings()}


# slow (14 s): the default suite keeps the grid and random searches; make test-slow runs TPE
@pytest.mark.slow
def test_tpe_asks_its_sampler_for_each_setting_and_repeats_each(fashion, tmp_path):
    import optuna

    study = tiny_study(axes={"optim.g_lr": {"low": 1e-5, "high": 1e-3, "log": True}}, search="tpe", trials=3,
                       repeats=2)
    out = sweep(study, out=str(tmp_path / "s"), progress=False)
    trials = load_results(out).trials
    assert len(trials) == 6
    by_lr: dict[float, list[int]] = {}
    for t in trials:
        by_lr.setdefault(t.params["optim.g_lr"], []).append(t.repeat)
        assert 1e-5 <= t.config["optim"]["g_lr"] <= 1e-3
    assert len(by_lr) == 3 and all(sorted(r) == [0, 1] for r in by_lr.values())
    ost = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in ost.trials) == 6


# slow (17 s): tests/studies/test_postgres.py runs two workers on one study in the default suite
@pytest.mark.slow
def test_two_local_workers_share_the_trials_and_never_run_one_twice(fashion, tmp_path):
    file = write_study_file(tmp_path / "two.toml", '"loss.name" = ["ns", "hinge", "lsgan"]', "repeats = 2")
    out = tmp_path / "s"
    assert main(["sweep", str(file), "--out", str(out), "--workers", "2"]) == 0
    rows = executions(out)
    assert len(rows) == 6 and len({r["run"] for r in rows}) == 6
    assert len({r["pid"] for r in rows}) == 2  # both workers took trials
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()


@pytest.mark.slow  # 10-40 s: `make test-slow` (the default suite stays under 10 minutes)
def test_a_killed_worker_s_trial_resumes_from_its_checkpoint(fashion, tmp_path):
    # long enough trials (6 epochs, a checkpoint per epoch) to kill one midway
    file = write_study_file(tmp_path / "kill.toml", '"loss.name" = ["ns", "hinge"]', **{"train.epochs": 8})
    out = tmp_path / "s"
    env = {**os.environ, "GANKIT_SWEEP_HEARTBEAT": "1,3"}  # a dead worker's trial is retried after 3 s
    cmd = [sys.executable, "-m", "gankit", "sweep", str(file), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first is None:
        for run in (out / "trials").glob("*"):
            ev = read_jsonl(run / "events.jsonl")
            if (run / "checkpoints" / "last.safetensors").is_file() and any(e.get("epoch", 0) >= 2 for e in ev) \
                    and not (run / "trial.json").exists():
                first = run
        time.sleep(0.05)
    assert first is not None, "no trial reached its second checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(r["step"] for r in read_jsonl(first / "stats.jsonl"))

    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [r for r in executions(out) if r["run"] == f"trials/{first.name}"]
    assert [r["resumed"] for r in rows] == [False, True]
    steps = [r["step"] for r in read_jsonl(first / "stats.jsonl")]
    assert steps == sorted(set(steps)) and steps[-1] > killed_at  # no step logged twice, and it went on
    assert any(e.get("event") == "resume" for e in read_jsonl(first / "events.jsonl"))
    assert len(load_results(out).trials) == 2 and all(t.value is not None for t in load_results(out).trials)


def test_a_failing_trial_is_recorded_and_the_others_still_run(fashion, tmp_path, capsys):
    # DCGAN cannot be built for 30x30 images, and a transfer source that does not exist cannot be
    # loaded: these variants fail when their trials start (before training), with `gankit train`'s line
    nope = tmp_path / "no-such-run"
    study = tiny_study(axes={"v": {"variants": {"ok": {}, "broken": {"data.resolution": 30},
                                                "no source": {"train.init_from": str(nope)}}}})
    out = sweep(study, out=str(tmp_path / "s"), progress=False)
    res = load_results(out)
    broken = next(t for t in res.trials if t.label == "v=broken")
    assert broken.value is None and "30" in broken.error
    no_source = next(t for t in res.trials if t.label == "v=no source")
    assert no_source.value is None and no_source.error == f"--init-from {nope}: no such run directory or checkpoint file"
    assert next(t for t in res.trials if t.label == "v=ok").value is not None
    assert "v=broken (seed 0): failed:" in capsys.readouterr().out


def test_a_bug_inside_one_trial_fails_that_trial_and_the_study_goes_on(fashion, tmp_path, monkeypatch):
    import gankit.training.loop as loop

    real = loop.train_step

    def step(nets, obj, state, *rest):  # a bug in the hinge trial's training only
        if obj.lo.name == "hinge":
            raise ValueError("boom")
        return real(nets, obj, state, *rest)

    monkeypatch.setattr(loop, "train_step", step)
    out = sweep(tiny_study(axes={"loss.name": ["hinge", "ns"]}), out=str(tmp_path / "s"), progress=False)
    res = load_results(out)
    hinge = next(t for t in res.trials if t.label == "loss=hinge")
    assert hinge.value is None and hinge.error == "internal error, a bug in gankit: ValueError: boom"
    assert "ValueError: boom" in (hinge.path / "error.log").read_text()
    assert next(t for t in res.trials if t.label == "loss=ns").value is not None  # the study went on


def test_a_study_directory_holds_one_study(fashion, tmp_path, capsys):
    out = tmp_path / "s"
    sweep(tiny_study(axes={"loss.name": ["ns"]}), out=str(out), progress=False)
    file = write_study_file(tmp_path / "tiny.toml", '"loss.name" = ["hinge"]')
    capsys.readouterr()  # the first study's own output
    assert main(["sweep", str(file), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "different study" in err and "\n" not in err


def test_sweep_dry_run_lists_the_trials_and_trains_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "fashion-ablations", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 settings x 3 seeds" in out and "ablation=spectral norm" in out
    assert not (tmp_path / "studies").exists()


def test_report_tells_a_run_directory_from_a_study_directory(finished_study, tmp_path, capsys):
    trial = next((finished_study / "trials").iterdir())
    assert main(["report", str(finished_study)]) == 0
    assert capsys.readouterr().out.strip().endswith("report.html")
    assert main(["report", str(trial)]) == 0  # a trial is a run: its own report
    assert (trial / "report.html").is_file()
    with pytest.raises(Exception, match="it is a run directory"):
        load_results(trial)


@pytest.mark.slow  # 10-40 s: `make test-slow` (the default suite stays under 10 minutes)
def test_ctrl_c_saves_the_trial_and_puts_it_back_in_the_queue(fashion, tmp_path):
    import optuna

    file = write_study_file(tmp_path / "intr.toml", '"loss.name" = ["ns"]', **{"train.epochs": 8})
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "gankit", "sweep", str(file), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("trials/*/checkpoints/last.safetensors")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    ost = optuna.load_study(study_name="intr", storage=f"sqlite:///{out / 'study.db'}")
    states = sorted(t.state.name for t in ost.trials)
    assert states == ["FAIL", "WAITING"]  # re-queued at once, no heartbeat grace to wait for
    from gankit.studies.sweep import finished_trials

    # marked as interrupted: the progress lines of `--workers N` neither count nor report it as failed
    assert [t.user_attrs.get("interrupted") for t in ost.trials if t.state.name == "FAIL"] == [True]
    assert finished_trials(ost) == []
    assert main(["sweep", str(file), "--out", str(out)]) == 0
    rows = executions(out)
    assert [r["resumed"] for r in rows] == [False, True] and rows[0]["run"] == rows[1]["run"]
    assert load_results(out).trials[0].value is not None


def test_workers_started_together_all_find_one_whole_study_directory(tmp_path):
    # a second worker used to see the folder between its trials/ and its study.json and refuse it
    # as "not a study directory" (seen under load in test_postgres's two workers)
    from concurrent.futures import ThreadPoolExecutor

    from gankit.runs.layout import StudyDir
    from gankit.studies.sweep import prepare_dir

    study, out = tiny_study(), tmp_path / "studies" / "s"
    for _ in range(5):
        with ThreadPoolExecutor(8) as pool:
            dirs = list(pool.map(lambda _: prepare_dir(study, str(out), None), range(8)))
        assert dirs == [out] * 8 and StudyDir(out).study_file.is_file() and StudyDir(out).trials.is_dir()
        assert sorted(p.name for p in out.parent.iterdir()) == ["s"]  # no half-made sibling left behind
        assert json.loads(StudyDir(out).study_file.read_text())["study"] == study.to_dict()
        import shutil
        shutil.rmtree(out)


def test_a_folder_of_something_else_is_still_refused(tmp_path, capsys):
    from gankit.errors import GankitError
    from gankit.studies.sweep import prepare_dir

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(GankitError, match="exists and is not a study directory"):
        prepare_dir(tiny_study(), str(tmp_path / "s"), None)
    assert (tmp_path / "s" / "notes.txt").read_text() == "mine"
