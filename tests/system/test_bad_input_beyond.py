"""The bad-input promise beyond the first matrix (issue 26): paths the system refuses, values that
used to pass --dry-run, study files of the wrong types, damaged run/study/export files, counts,
consistency, and bugs.  Each case through the real CLI: its exact one-line message, the exit
code, no traceback, nothing left behind.  docs/errors.md lists the same cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_input_helpers import FAST, fails, flat_folder
from tiny_runs import tiny_run

from gankit.cli import main


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, reference_cache):
    root = tmp_path_factory.mktemp("runs")
    cache = reference_cache  # the session's: reference features computed once, not once per module
    return {"cond": tiny_run(root, True, cache).path, "uncond": tiny_run(root, False, cache).path}


# -- 2. paths the operating system refuses: checked before work starts -----------------------

def test_out_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    images = flat_folder(tmp_path / "imgs", 32)
    assert fails(["train", "--set", "data.dataset=folder", "--set", f"data.path={images}", "--out", str(f), *FAST],
                 capsys) == f"--out {f}: is a file, not a folder; give a folder"
    assert fails(["train", "--out", str(f / "runs"), *FAST], capsys) == \
        f"--out {f / 'runs'}: {f} is a file, not a folder; give a folder"
    assert fails(["sweep", "mnist-losses", "--out", str(f)], capsys) == f"--out {f}: is a file, not a folder; give a folder"
    assert f.read_text() == "x"


def test_a_name_too_long_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "runs"
    assert fails(["train", "--out", str(out), "--name", "n" * 300, *FAST], capsys) == \
        "--name: 300 characters; use at most 100"
    assert not out.exists()  # no folder, no .lock


def test_cache_that_is_a_file(tmp_path, capsys, monkeypatch, runs):
    f = tmp_path / "cachefile"
    f.write_text("x")
    monkeypatch.setenv("GANKIT_CACHE", str(f))
    message = f"the gankit cache {f}: is a file, not a folder; give a folder (or point $GANKIT_CACHE at a writable folder)"
    assert fails(["train", "--out", str(tmp_path / "runs"), *FAST], capsys) == message
    assert fails(["evaluate", str(runs["cond"]), "--n", "16"], capsys) == message
    assert not (tmp_path / "runs").exists()


def test_generate_and_export_targets(tmp_path, capsys, runs):
    run, f = runs["uncond"], tmp_path / "f"
    f.write_text("x")
    assert fails(["generate", str(run), "--grid", str(tmp_path)], capsys) == f"--grid {tmp_path}: is a folder; give a file name"
    assert fails(["generate", str(run), "--out", str(f)], capsys) == f"--out {f}: is a file, not a folder; give a folder"
    assert fails(["generate", str(run), "--npz", str(f / "x.npz")], capsys) == \
        f"--npz {f / 'x.npz'}: {f} is a file, not a folder; give a folder"
    assert fails(["export", str(run), "--out", str(f)], capsys) == f"--out {f}: is a file, not a folder; give a folder"


def test_an_os_error_that_still_reaches_the_cli_is_one_line(tmp_path, capsys, monkeypatch):
    import errno

    import gankit.commands.options as options

    def refuse(preset):
        raise PermissionError(errno.EACCES, "Permission denied", "/some/where")

    monkeypatch.setattr(options, "format_options", refuse)
    assert fails(["options"], capsys) == ("/some/where: Permission denied (not permitted: choose a path you can write "
                                          "to or fix its permissions)")


# -- 3. values that passed --dry-run ---------------------------------------------------------

@pytest.mark.parametrize("setting, message", [
    ("train.threads=-1", "invalid config: train.threads=-1; must be in [0, 4096] (0 = all cores)"),
    ("train.eval_n=0", "invalid config: train.eval_n=0; must be in [1, 1000000] (samples per periodic evaluation; "
                       "2048 or more for comparable FID)"),
    ("optim.g_lr=inf", "invalid config: optim.g_lr=inf; must be a finite number > 0"),
    ("train.device=banana", "invalid config: train.device='banana' is not a device; use auto, cpu, cuda, cuda:N or mps"),
    ("train.seed=-1", "invalid config: train.seed=-1; must be in [0, 4294967295] (a 32-bit seed)"),
])
def test_refused_at_dry_run(setting, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fails(["train", "--dry-run", "--set", setting], capsys) == message
    assert list(tmp_path.iterdir()) == []


def test_fp16_without_a_gpu_is_refused_before_the_run_directory(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    out = tmp_path / "runs"
    assert fails(["train", "--dry-run", "--set", "train.amp=fp16", "--set", "train.device=cpu"], capsys) == \
        "invalid config: train.amp=fp16 needs a CUDA GPU (train.device=cpu); use train.amp=bf16 or none"
    assert fails(["train", "--out", str(out), "--set", "train.amp=fp16", *FAST], capsys) == \
        "train.amp=fp16 needs a CUDA GPU (this run is on cpu); use train.amp=bf16 or none"
    assert not out.exists()


def test_non_square_images_are_refused_before_the_run_directory(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    images = tmp_path / "wide"
    images.mkdir()
    for i in range(32):
        Image.fromarray(np.full((28, 40), i, dtype=np.uint8)).save(images / f"{i}.png")
    out = tmp_path / "runs"
    assert fails(["train", "--set", "data.dataset=folder", "--set", f"data.path={images}", "--out", str(out), *FAST],
                 capsys) == ("model.name=dcgan cannot run on 1x28x40 images (G makes 1x28x28 images); the images are "
                             "40x28: set data.resolution=N to resize and centre-crop them to N x N")
    assert not out.exists()


# -- 4. study files ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ('repeats = "3"', "repeats = '3' should be an integer"),
    ("repeats = 1.5", "repeats = 1.5 should be an integer"),
    ('metric = ["fid"]', "metric = ['fid'] should be a metric name"),
    ("set = [1, 2]", "set = [1, 2] should be a table of config keys"),
    ("axes = [1]", "axes = [1] should be a table of axes"),
    ("full = 1", "full = 1 should be a table ([full])"),
    ("repet = 2", "unknown keys ['repet'] (did you mean repeats?); a study file has ['axes', 'base', 'description', "
                  "'eval_n', 'full', 'metric', 'preset', 'published', 'repeats', 'search', 'seed', 'set', 'trials']"),
    ('[axes.x]\nkeys = []\nvalues = [1]', "axis 'x': keys must be a non-empty list of config keys"),
])
def test_study_files_are_checked_by_type(text, message, tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(text + "\n")
    assert fails(["sweep", str(f), "--dry-run"], capsys) == f"{f}: {message}"


def test_a_study_file_that_is_not_utf8(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_bytes(b"\xff\xfe repeats = 1")
    assert fails(["sweep", str(f), "--dry-run"], capsys) == f"{f}: not a UTF-8 text file; a study file is TOML (docs/studies.md)"


def test_a_storage_that_cannot_be_opened_leaves_no_study_directory(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text('[axes]\n"loss.name" = ["ns"]\n')
    out = tmp_path / "study"
    line = fails(["sweep", str(f), "--out", str(out), "--storage", "sqlite:////nonexistent/dir/x.db"], capsys)
    assert line.startswith("--storage sqlite:////nonexistent/dir/x.db: cannot open (")
    assert not out.exists()


# -- 5. damaged run, study and export files ----------------------------------------------------

@pytest.mark.parametrize("content, problem", [
    ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ("[1, 2]", "holds a JSON list, not an object of settings"),
])
def test_a_damaged_config_json(content, problem, tmp_path, capsys, runs):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["uncond"], run)
    (run / "config.json").write_text(content)
    before = snapshot(run)
    message = (f"{run / 'config.json'}: {problem}; the run directory is damaged: restore config.json (every "
               "checkpoint holds a copy of it) or start a new run")
    assert fails(["report", str(run)], capsys) == message
    assert fails(["train", "--resume", str(run)], capsys) == message
    assert snapshot(run) == before


METRICS_FIX = "delete it and run `gankit evaluate {run}` to score the run again (gankit changed nothing)"
LOG_FIX = ("the run's log is damaged: remove or repair that line, or restore the file from a backup (gankit "
           "changed nothing)")


def test_a_torn_metrics_json_stops_the_report_and_the_evaluation_in_one_line(tmp_path, capsys, runs):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["uncond"], run)
    (run / "metrics.json").write_text('{"fid": 3')
    before = snapshot(run)
    message = (f"{run / 'metrics.json'}: is not valid JSON (Expecting ',' delimiter: line 1 column 10 (char 9)); "
               + METRICS_FIX.format(run=run))
    assert fails(["report", str(run)], capsys) == message
    assert fails(["evaluate", str(run), "--n", "100"], capsys) == message  # never replaced unread
    assert snapshot(run) == before


@pytest.mark.parametrize("log, row, problem", [
    ("stats.jsonl", "[1, 2]", "holds a JSON list, not a row object"),
    ("events.jsonl", "42", "holds a JSON number, not a row object"),
    ("stats.jsonl", '{"step": "ten"}', 'its step is a JSON string ("ten"), not what gankit wrote there'),
    ("evals.jsonl", '{"step": 3, "fid": 1', "is not valid JSON (Expecting ',' delimiter: line 1 column 21 (char 20))"),
])
def test_a_damaged_log_row_is_one_line_naming_it_and_a_resume_rewrites_nothing(log, row, problem, tmp_path, capsys,
                                                                               runs):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["uncond"], run)
    with open(run / log, "a") as f:
        f.write(row + "\n" + '{"step": 1, "event": "x"}\n')  # damage in the middle: not a torn last line
    number = len((run / log).read_text().splitlines()) - 1
    before = snapshot(run)
    message = f"{run / log}:{number}: {problem}; {LOG_FIX}"
    assert fails(["report", str(run)], capsys) == message
    assert fails(["train", "--resume", str(run), "--epochs", "9"], capsys) == message
    assert snapshot(run) == before


def test_a_torn_last_line_is_left_out_with_one_warning(tmp_path, capsys, runs):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["uncond"], run)
    with open(run / "stats.jsonl", "a") as f:
        f.write('{"step": 99, "d_lo')  # a process killed mid-write
    assert main(["report", str(run)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"gankit: warning: {run / 'stats.jsonl'}: its last line is torn (the process writing it was "
                   "stopped mid-line); it is left out"]


def test_a_damaged_study_json(tmp_path, capsys):
    study = tmp_path / "study"
    (study / "trials").mkdir(parents=True)
    (study / "study.json").write_text("[]")
    assert fails(["report", str(study)], capsys) == (
        f"{study / 'study.json'}: holds a JSON list, not an object of settings; the study directory is damaged: restore "
        "study.json or start the study again in a new --out (its trials are ordinary run directories and stay usable)")


@pytest.mark.parametrize("trial, problem", [
    ('{"label": "ns", "value": 3.', "is not valid JSON (Expecting ',' delimiter: line 1 column 27 (char 26))"),
    ('{"label": "ns", "value": "low"}', 'its value is a JSON string ("low"), not what gankit wrote there'),
])
def test_a_damaged_trial_is_one_line_not_a_trial_left_out(trial, problem, tmp_path, capsys):
    study = tmp_path / "study"
    (study / "trials" / "0001").mkdir(parents=True)
    (study / "study.json").write_text(json.dumps({"study": {"metric": "fid", "axes": [{"name": "loss"}]}}))
    (study / "trials" / "0001" / "trial.json").write_text(trial)
    before = snapshot(study)
    assert fails(["report", str(study)], capsys) == (
        f"{study / 'trials' / '0001' / 'trial.json'}: {problem}; the trial's files are damaged: restore it, or delete "
        "the trial's directory and run the sweep again (it trains that trial anew; gankit changed nothing)")
    assert snapshot(study) == before


def _export(tmp_path, runs, capsys) -> Path:
    out = tmp_path / "export"
    assert main(["export", str(runs["cond"]), "--out", str(out)]) == 0
    capsys.readouterr()
    return out


@pytest.mark.parametrize("content, problem", [("[1, 2]", "holds a JSON list, not an object of settings"),
                                              ('{"format": ', "is not valid JSON (Expecting value: line 1 column 12 "
                                                             "(char 11))")])
def test_an_export_whose_config_is_not_an_object_is_one_line(content, problem, tmp_path, capsys, runs):
    out = _export(tmp_path, runs, capsys)
    (out / "config.json").write_text(content)
    assert fails(["generate", str(out), "--n", "4", "--npz", str(tmp_path / "x.npz")], capsys) == (
        f"{out / 'config.json'}: {problem}; export the run again (`gankit export RUN --out DIR`)")
    assert not (tmp_path / "x.npz").exists()


def test_an_export_with_a_wrong_label_prior_is_refused(tmp_path, capsys, runs):
    out = _export(tmp_path, runs, capsys)
    meta = json.loads((out / "config.json").read_text())
    meta["label_prior"] = [1.0]  # one class, where the model has ten: it would generate class 0 only
    (out / "config.json").write_text(json.dumps(meta))
    assert fails(["generate", str(out), "--n", "4", "--npz", str(tmp_path / "x.npz")], capsys) == (
        f"{out / 'config.json'}: its label_prior is not one probability per class; the checkpoint is damaged or not a "
        "gankit training checkpoint, use another one or retrain")
    assert not (tmp_path / "x.npz").exists()


def test_an_export_with_a_huge_shape_is_refused_before_allocation(tmp_path, capsys, runs):
    out = _export(tmp_path, runs, capsys)
    meta = json.loads((out / "config.json").read_text())
    meta["img_shape"] = [3, 65536, 65536]
    (out / "config.json").write_text(json.dumps(meta))
    assert fails(["generate", str(out), "--n", "4", "--npz", str(tmp_path / "x.npz")], capsys) == (
        f"{out / 'config.json'}: its img_shape [3, 65536, 65536] is not [channels 1-4, height, width up to 4096]; the "
        "checkpoint is damaged or not a gankit training checkpoint, use another one or retrain")


# -- 6. counts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["evaluate", "RUN", "--n", "0"], "--n 0: must be at least 1"),
    (["evaluate", "RUN", "--n", "-5"], "--n -5: must be at least 1"),
    (["evaluate", "RUN", "--cas", "--cas-epochs", "-1"], "--cas-epochs -1: must be at least 0"),
    (["generate", "RUN", "--n", "1000000000", "--npz", "X"], "--n 1000000000: must be at most 10,000,000"),
    (["generate", "RUN", "--n", "5000", "--grid", "X"], "--n 5000: must be at most 1,024"),
    (["generate", "RUN", "--seed", str(2**64), "--npz", "X"], f"--seed {2**64}: must be at most 9,223,372,036,854,775,807"),
    (["generate", "RUN", "--seed", "-1", "--npz", "X"], "--seed -1: must be at least 0"),
    (["data", "show", "fashion-mnist", "--n", "-3"], "--n -3: must be at least 1"),
    (["data", "show", "fashion-mnist", "--n", "0"], "--n 0: must be at least 1"),
])
def test_counts_are_checked_before_any_work(args, message, tmp_path, capsys, runs, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(runs["cond"]) if a == "RUN" else str(tmp_path / "x.png") if a == "X" else a for a in args]
    before = snapshot(runs["cond"])
    assert fails(argv, capsys) == message
    assert list(tmp_path.iterdir()) == [] and snapshot(runs["cond"]) == before


# -- 8. consistency ------------------------------------------------------------------------------

def test_generate_class_takes_the_spelling_data_classes_takes(tmp_path, capsys, runs):
    npz = tmp_path / "boots.npz"
    assert main(["generate", str(runs["cond"]), "--class", "ankle boot", "--n", "4", "--npz", str(npz)]) == 0
    import numpy as np

    assert (np.load(npz)["labels"] == 9).all()


def test_a_missing_checkpoint_file_is_named(tmp_path, capsys, runs):
    missing = tmp_path / "missing.safetensors"
    assert fails(["generate", str(runs["cond"]), "--checkpoint", str(missing), "--npz", str(tmp_path / "x.npz")],
                 capsys) == (f"--checkpoint {missing}: no such file; give a checkpoint of this run, e.g. "
                             f"{runs['cond'] / 'checkpoints'}/last.safetensors")


# -- bugs: one line, exit 1, the traceback kept beside the run ---------------------------------

def test_a_bug_is_one_line_exit_1_with_its_traceback_in_the_run(tmp_path, capsys, monkeypatch):
    import gankit.training.loop as loop

    def broken(*a, **k):
        raise ValueError("boom")

    monkeypatch.setattr(loop, "train_step", broken)
    images = flat_folder(tmp_path / "imgs", 32)
    out = tmp_path / "runs"
    assert main(["train", "--set", "data.dataset=folder", "--set", f"data.path={images}", "--out", str(out), *FAST]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    log = out / "0001-x" / "error.log" if (out / "0001-x").exists() else next(out.glob("*/error.log"))
    assert err.splitlines()[-1] == (f"gankit: error: internal error, a bug in gankit: ValueError: boom (traceback in "
                                    f"{log}); rerun with --debug to see the traceback, and please report it")
    assert "ValueError: boom" in log.read_text() and "Traceback" in log.read_text()
