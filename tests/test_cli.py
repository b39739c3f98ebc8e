"""The command line: listing commands, one-line errors with exit code 2."""

import sys

import pytest
from bad_input_helpers import Terminal

from gankit.cli import main
from gankit.launch.presets import preset_names


def test_presets_lists_every_preset_with_a_description(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == preset_names()
    assert all(len(line.split(maxsplit=1)) == 2 for line in out)


def test_options_lists_every_key_with_default_and_meaning(capsys):
    from gankit.config import field_types

    assert main(["options"]) == 0
    out = capsys.readouterr().out
    for key in field_types():
        if "." in key:
            line = next(l for l in out.splitlines() if l.strip().startswith(key + " "))
            assert len(line.split()) >= 4, f"{key} has no meaning: {line!r}"
    assert "hinge" in out and "wgan-gp" in out


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--preset", "nope"], "unknown preset"),
    (["train", "--set", "train.epochs=0"], "train.epochs"),
    (["train", "--config", "/no/such.toml"], "no such file"),
    (["generate", "/no/such/run", "--grid", "x.png"], "not a gankit run directory"),
    (["report", "/no/such/run"], "not a gankit run directory"),
    (["train", "--resume", "/no/such/run"], "not a gankit run directory"),
    (["data", "show", "/no/such/folder"], "not a dataset"),
])
def test_errors_are_one_line_with_exit_code_2(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "\n" not in err
    assert fragment in err


def test_data_show_writes_a_grid_and_counts_per_class(shared_datasets, tmp_path, capsys):
    out = tmp_path / "catdog.png"
    zip_path = shared_datasets / "cifar10-catdog.zip"
    assert main(["data", "show", str(zip_path), "--set", "data.split=test", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cat: 1000" in text and "dog: 1000" in text
    assert out.stat().st_size > 1000
    assert main(["data", "show", "mnist", "--data-dir", str(shared_datasets / "mnist"),
                 "--set", "split=test", "--out", str(out)]) == 0
    counts = capsys.readouterr().out
    assert "10000 images" in counts and "1: 1135" in counts  # the MNIST test split has 1135 ones


def test_missing_data_fails_before_creating_a_run_directory(tmp_path, capsys):
    runs = tmp_path / "runs"
    argv = ["train", "--out", str(runs), "--set", "data.dataset=folder", "--set", f"data.path={tmp_path / 'nope'}"]
    assert main(argv) == 2
    assert "nope" in capsys.readouterr().err
    assert not runs.exists() or not any(runs.iterdir())


def _folder_with_a_loose_file(root):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / "stray.png")
    return root


def test_a_warning_is_one_gankit_line_not_pythons_format(tmp_path, capsys):
    import warnings

    src = _folder_with_a_loose_file(tmp_path / "imgs")
    shown = warnings.showwarning
    assert main(["data", "show", str(src), "--out", str(tmp_path / "x.png")]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [f"gankit: warning: {src}: ignored 1 files outside the class folders"]
    assert "UserWarning" not in err and "warnings.warn" not in err
    assert warnings.showwarning is shown  # main restores Python's handler


def test_the_installed_gankit_command_prints_warnings_as_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = _folder_with_a_loose_file(tmp_path / "imgs")
    gankit = Path(sys.executable).with_name("gankit")
    cmd = [str(gankit)] if gankit.is_file() else [sys.executable, "-m", "gankit"]
    p = subprocess.run(cmd + ["data", "show", str(src), "--out", str(tmp_path / "x.png")], capture_output=True,
                       text=True, env={**os.environ, "PYTHONWARNINGS": ""}, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr.splitlines() == [f"gankit: warning: {src}: ignored 1 files outside the class folders"]


def test_a_library_warning_is_one_line_and_never_an_error(monkeypatch, capsys):
    import warnings

    import dataclasses

    from gankit.cli.verbs import VERBS

    def noisy(a):
        warnings.warn("something a library\n  says on two lines", RuntimeWarning)
        return 0

    monkeypatch.setitem(VERBS, "presets", dataclasses.replace(VERBS["presets"], run=noisy))
    assert main(["presets"]) == 0
    assert capsys.readouterr().err.splitlines() == ["gankit: warning: something a library says on two lines"]


def test_debug_adds_the_traceback_to_an_error_and_keeps_exit_code_2(capsys):
    argv = ["data", "show", "/no/such/folder"]
    assert main(argv) == 2
    plain = capsys.readouterr().err
    assert "Traceback" not in plain and plain.splitlines() == [plain.strip()]
    assert plain.startswith("gankit: error: data show /no/such/folder: not a dataset")

    assert main(["--debug", *argv]) == 2
    debug = capsys.readouterr().err.splitlines()
    assert debug[0] == "Traceback (most recent call last):"
    assert any("cmd_data" in line for line in debug) and any("GankitError" in line for line in debug)
    assert debug[-1] == plain.strip()  # the one-line message still comes last


@pytest.mark.parametrize("argv, message", [
    (["evaluator", "train", "FEW"], "folder:few: 20 images are too few for an evaluator (at least 200); FID on so few "
                                    "images would not be meaningful either"),
    (["evaluator", "train", "FEW", "--method", "classifier"],
     "folder:few: a classifier evaluator needs labelled images (class sub-folders); use method ssl for a flat folder"),
    (["evaluator", "train"], "gankit evaluator train: name a dataset or folder/zip, or --set data.dataset=folder "
                             "--set data.path=PATH"),
    (["evaluator", "train", "FEW", "--epochs", "3"], "--epochs is for the shipped recipes (fashion-mnist, mnist, "
                                                     "cifar10, cifar10-catdog); an evaluator for other data follows "
                                                     "its own schedule (docs/evaluation.md)"),
    (["train", "--set", "train.eval_evaluator=inception", "--dry-run"],
     "invalid config: train.eval_evaluator='inception'; choose one of: auto, none, ssl"),
])
def test_evaluator_bad_input_is_one_line_and_writes_nothing(argv, message, tmp_path, capsys):
    import os

    import numpy as np
    from PIL import Image

    few = tmp_path / "few"
    few.mkdir()
    for i in range(20):
        Image.fromarray(np.full((16, 16), i * 10, np.uint8)).save(few / f"{i}.png")
    evaluators = os.path.join(os.environ["GANKIT_CACHE"], "evaluators")
    assert main([str(few) if a == "FEW" else a for a in argv]) == 2
    assert capsys.readouterr().err.strip() == f"gankit: error: {message}"
    assert not os.path.isdir(evaluators) or os.listdir(evaluators) == []  # no evaluator written


def test_an_error_during_an_epoch_starts_its_own_line_after_the_progress_bar(tmp_path, capsys, monkeypatch,
                                                                             fashion_dir):
    import gankit.training.loop as loop
    from gankit.errors import GankitError

    real_step, calls = loop.train_step, []

    def failing_step(*a, **kw):  # the disk fills on the third step, say
        calls.append(1)
        if len(calls) == 3:
            raise GankitError("no space left on device while saving; free some space")
        return real_step(*a, **kw)

    monkeypatch.setattr(loop, "train_step", failing_step)
    monkeypatch.setattr(sys, "stderr", Terminal(sys.stderr))  # bars are drawn on a terminal only
    argv = ["train", "--data-dir", str(fashion_dir), "--out", str(tmp_path), "--epochs", "1",
            "--set", "data.limit=256", "--set", "train.progress=true", "--set", "train.tensorboard=false"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "epoch 1/1" in err  # the bar was drawn
    lines = err.replace("\r", "\n").splitlines()
    assert "gankit: error: no space left on device while saving; free some space" in lines  # a line of its own
    # what the terminal shows (a carriage return overwrites its line): the run directory, then the error alone
    shown = [line.rsplit("\r", 1)[-1].rstrip() for line in err.split("\n")]
    assert [line for line in shown if line] == [f"run directory: {next(tmp_path.glob('0001-*'))}",
                                                 "gankit: error: no space left on device while saving; free some space"]


def test_redirected_stderr_gets_no_progress_bar(tmp_path, capsys, fashion_dir):
    """Redirected to a file (not a terminal), a bar would be a line of noise per refresh: none is drawn."""
    argv = ["train", "--data-dir", str(fashion_dir), "--out", str(tmp_path), "--epochs", "1",
            "--set", "data.limit=64", "--set", "train.progress=true", "--set", "train.tensorboard=false"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "epoch 1/1" not in err and "\r" not in err

