"""The bad-input matrix (issue 15), its checkpoint and directory cases: a checkpoint of another
architecture or a newer gankit, a config edited after training, run directories never reused,
a run where a study is expected and the reverse.  Each through the real CLI: the exact one-line
message, exit code 2, and the run's files unchanged.  docs/errors.md lists the same cases."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from bad_input_helpers import FAST, fails, flat_folder

from gankit.cli import main
from gankit.runs.checkpoint import load_state, save_state
from gankit.runs.layout import create_run_dir


@pytest.fixture
def cache() -> Path:
    return Path(os.environ["GANKIT_CACHE"])  # a fresh, empty folder per test (conftest)


@pytest.fixture
def tiny_run(tmp_path, capsys) -> Path:
    d = flat_folder(tmp_path / "imgs", 32)
    assert main(["train", "--set", "data.dataset=folder", "--set", f"data.path={d}", "--out",
                 str(tmp_path / "runs"), "--name", "x", *FAST]) == 0
    capsys.readouterr()
    return tmp_path / "runs" / "0001-x"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


G_WIDTH_16 = ("fc.weight is [784, 100] in the checkpoint but [1568, 100] in the model; fc_post.0.weight is [16] in "
              "the checkpoint but [32] in the model; fc_post.0.bias is [16] in the checkpoint but [32] in the model; "
              "and 8 more")
D_WIDTH_16 = ("features.0.weight is [8, 1, 4, 4] in the checkpoint but [16, 1, 4, 4] in the model; features.0.bias "
              "is [8] in the checkpoint but [16] in the model; features.2.weight is [16, 8, 4, 4] in the checkpoint "
              "but [32, 16, 4, 4] in the model; and 2 more")
ANOTHER_ARCH = ("it was saved for another architecture or by another gankit version: use the config and the gankit "
                "it was trained with, or start a new run")


@pytest.mark.parametrize("n", ["0", "-5"])
def test_generate_fewer_than_one_image(tiny_run, tmp_path, n, capsys):
    before = snapshot(tiny_run)
    for out in (["--grid", str(tmp_path / "g.png")], ["--out", str(tmp_path / "pngs")],
                ["--npz", str(tmp_path / "s.npz")]):
        assert fails(["generate", str(tiny_run), "--n", n, *out], capsys) == f"--n {n}: must be at least 1"
    assert snapshot(tiny_run) == before
    assert not any((tmp_path / name).exists() for name in ("g.png", "pngs", "s.npz"))


def test_resume_with_a_config_that_no_longer_fits_the_checkpoint(tiny_run, cache, capsys):
    cfg = json.loads((tiny_run / "config.json").read_text())
    cfg["model"]["g_width"] = 16  # edited by hand after training
    (tiny_run / "config.json").write_text(json.dumps(cfg))
    before = snapshot(tiny_run)
    ckpt = tiny_run / "checkpoints" / "last.safetensors"
    assert fails(["train", "--resume", str(tiny_run), "--epochs", "2"], capsys) == (
        f"{ckpt}: the checkpoint's G does not fit the model ({G_WIDTH_16}); {tiny_run / 'config.json'} sets "
        "model.g_width=16 (the checkpoint has 8): put the checkpoint's values back, or start a new run")
    assert snapshot(tiny_run) == before  # config.json not rewritten, no event, no log row


def test_resume_onto_a_checkpoint_of_another_model(tiny_run, tmp_path, capsys):
    # another run's checkpoint (D twice as wide) copied into this run
    other = load_state(tiny_run / "checkpoints" / "last.safetensors")
    from gankit.config import from_dict
    from gankit.models import build_models

    cfg = from_dict(other["config"])
    cfg.model.d_width = 16
    _, D = build_models(cfg.model, tuple(other["img_shape"]), 1)
    other["D"], other["config"] = D.state_dict(), cfg.to_dict()
    ckpt = tiny_run / "checkpoints" / "last.safetensors"
    save_state(other, ckpt)
    before = snapshot(tiny_run)
    assert fails(["train", "--resume", str(tiny_run)], capsys) == (
        f"{ckpt}: the checkpoint's D does not fit the model ("
        "features.0.weight is [16, 1, 4, 4] in the checkpoint but [8, 1, 4, 4] in the model; features.0.bias is [16] "
        "in the checkpoint but [8] in the model; features.2.weight is [32, 16, 4, 4] in the checkpoint but "
        f"[16, 8, 4, 4] in the model; and 2 more); {tiny_run / 'config.json'} sets model.d_width=8 (the checkpoint "
        "has 16): put the checkpoint's values back, or start a new run")
    assert snapshot(tiny_run) == before


def test_generate_from_a_checkpoint_whose_weights_do_not_fit_its_config(tiny_run, tmp_path, capsys):
    state = load_state(tiny_run / "checkpoints" / "last.safetensors")
    state["config"]["model"]["d_width"] = 16  # e.g. another gankit version built D differently
    bad = tmp_path / "other.safetensors"
    save_state(state, bad)
    grid = tmp_path / "g.png"
    for cmd in (["generate", str(tiny_run), "--checkpoint", str(bad), "--n", "4", "--grid", str(grid)],
                ["export", str(tiny_run), "--checkpoint", str(bad), "--out", str(tmp_path / "exp")]):
        assert fails(cmd, capsys) == f"{bad}: the checkpoint's D does not fit the model ({D_WIDTH_16}); {ANOTHER_ARCH}"
    assert not grid.exists() and not (tmp_path / "exp").exists()


def test_checkpoints_record_version_and_format_and_a_newer_format_is_refused(tiny_run, tmp_path, capsys):
    import gankit
    from gankit.runs.checkpoint import FORMAT

    ckpt = tiny_run / "checkpoints" / "last.safetensors"
    state = load_state(ckpt)
    assert state["format"] == FORMAT == 1 and state["gankit_version"] == gankit.__version__
    newer = dict(state, format=FORMAT + 1, gankit_version="9.0.0")
    save_state(newer, ckpt)
    before = snapshot(tiny_run)
    expected = (f"{ckpt}: checkpoint format 2 (written by gankit 9.0.0) is newer than this gankit "
                f"{gankit.__version__} reads (format 1 and older); upgrade gankit (pip install -U gankit) to load it")
    grid = tmp_path / "g.png"
    assert fails(["generate", str(tiny_run), "--n", "4", "--grid", str(grid)], capsys) == expected
    assert fails(["train", "--resume", str(tiny_run), "--epochs", "2"], capsys) == expected
    assert fails(["evaluate", str(tiny_run), "--n", "16"], capsys) == expected
    assert snapshot(tiny_run) == before and not grid.exists()


def test_a_checkpoint_from_before_the_format_field_still_loads(tiny_run, tmp_path, capsys):
    ckpt = tiny_run / "checkpoints" / "last.safetensors"
    state = load_state(ckpt)
    del state["format"], state["gankit_version"]
    save_state(state, ckpt)
    assert main(["generate", str(tiny_run), "--n", "4", "--grid", str(tmp_path / "g.png")]) == 0
    assert main(["train", "--resume", str(tiny_run), "--epochs", "2"]) == 0  # train.max_steps=2: loads, is done
    assert "Traceback" not in capsys.readouterr().err


def test_an_export_of_a_newer_format_is_refused(tiny_run, tmp_path, capsys):
    import gankit

    exp = tmp_path / "exp"
    assert main(["export", str(tiny_run), "--out", str(exp)]) == 0
    meta = json.loads((exp / "config.json").read_text())
    assert meta["format_version"] == 1 and meta["gankit_version"] == gankit.__version__
    (exp / "config.json").write_text(json.dumps(dict(meta, format_version=2, gankit_version="9.0.0")))
    capsys.readouterr()
    assert fails(["generate", str(exp), "--n", "4", "--grid", str(tmp_path / "g.png")], capsys) == (
        f"{exp}: export format 2 (written by gankit 9.0.0) is newer than this gankit {gankit.__version__} reads "
        "(format 1 and older); upgrade gankit (pip install -U gankit) to load it")
    del meta["format_version"], meta["gankit_version"]  # an export from before the fields
    (exp / "config.json").write_text(json.dumps(meta))
    assert main(["generate", str(exp), "--n", "4", "--grid", str(tmp_path / "g.png")]) == 0


# --------------------------------------------------------------------------------------------
# run directories: never overwritten; a run where a study is expected and the reverse


def test_a_run_directory_is_never_reused_even_with_the_same_name(tiny_run, tmp_path, capsys):
    first = snapshot(tiny_run)
    d = tmp_path / "imgs"
    assert main(["train", "--set", "data.dataset=folder", "--set", f"data.path={d}", "--out",
                 str(tmp_path / "runs"), "--name", "x", *FAST]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if p.is_dir()) == ["0001-x", "0002-x"]
    assert snapshot(tiny_run) == first  # the first run's files are untouched
    # numbers are never reused: a gap or a foreign folder does not lower the next number
    (tmp_path / "runs" / "0007-y").mkdir()
    assert create_run_dir(tmp_path / "runs", "x").path.name == "0008-x"


def _study_dir(tmp_path: Path) -> Path:
    from gankit.studies import load_study
    from gankit.studies.sweep import prepare_dir

    return prepare_dir(load_study("fashion-ablations"), str(tmp_path / "study"), None)


def test_a_study_directory_where_a_run_directory_is_expected(tmp_path, capsys):
    study = _study_dir(tmp_path)
    before = snapshot(study)
    expected = (f"{study}: is a study directory, not a run directory; give one of its trials under "
                f"{study / 'trials'}, or `gankit report {study}` for the study")
    for argv in (["generate", str(study), "--n", "4", "--grid", str(tmp_path / "g.png")],
                 ["evaluate", str(study)],
                 ["export", str(study), "--out", str(tmp_path / "exp")],
                 ["train", "--resume", str(study)]):
        assert fails(argv, capsys) == expected, argv
    assert snapshot(study) == before
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "exp").exists()


def test_a_study_directory_with_trials_names_one(tiny_run, tmp_path, capsys):
    study = _study_dir(tmp_path)
    shutil.copytree(tiny_run, study / "trials" / "0000-baseline")
    assert fails(["generate", str(study), "--n", "4", "--grid", str(tmp_path / "g.png")], capsys) == (
        f"{study}: is a study directory, not a run directory; give one of its trials under {study / 'trials'} "
        f"(e.g. {study / 'trials' / '0000-baseline'}), or `gankit report {study}` for the study")


def test_a_run_directory_given_to_sweep_out(tiny_run, capsys):
    before = snapshot(tiny_run)
    assert fails(["sweep", "fashion-ablations", "--out", str(tiny_run)], capsys) == (
        f"--out {tiny_run}: is a run directory, not a study directory; give a new folder (default studies/STUDY) "
        "or an existing study directory to resume")
    assert snapshot(tiny_run) == before


# -- resume flags that cannot lie ---------------------------------------------------------------

def test_resume_with_dry_run_prints_the_config_and_writes_nothing(tiny_run, capsys):
    before = snapshot(tiny_run)
    assert main(["train", "--resume", str(tiny_run), "--epochs", "5", "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["train"]["epochs"] == 5 and printed["model"]["g_width"] == 8  # the run's own config, changed
    assert snapshot(tiny_run) == before  # nothing trained, config.json not rewritten


@pytest.mark.parametrize("flags, named", [(["--seed", "3"], "--seed"), (["--out", "elsewhere"], "--out"),
                                          (["--name", "y", "--set", "loss.name=ns"], "--set, --name")])
def test_resume_refuses_flags_it_cannot_honour(tiny_run, flags, named, capsys):
    before = snapshot(tiny_run)
    assert fails(["train", "--resume", str(tiny_run), *flags], capsys) == (
        f"--resume continues a run with its own config, so {named} cannot apply; only --epochs and --budget may "
        "change it (start a new run for other settings)")
    assert snapshot(tiny_run) == before


def test_resume_with_fewer_epochs_than_done_is_refused_and_rewrites_nothing(tmp_path, capsys):
    d = flat_folder(tmp_path / "imgs", 32)  # 2 steps an epoch at batch 16
    assert main(["train", "--set", "data.dataset=folder", "--set", f"data.path={d}", "--out", str(tmp_path / "runs"),
                 *FAST, "--set", "train.max_steps=0", "--set", "train.epochs=2"]) == 0
    run = next((tmp_path / "runs").glob("0001-*"))
    capsys.readouterr()
    before = snapshot(run)
    assert fails(["train", "--resume", str(run), "--epochs", "1"], capsys) == (
        f"--epochs 1: {run} has already trained 4 steps, 2 epochs of 2 steps; give more epochs than that to continue "
        "it (its config says 2), or leave --epochs out (nothing was changed)")
    assert snapshot(run) == before
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 0  # more epochs: it goes on
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 3


def test_a_run_being_trained_cannot_be_resumed_twice_and_a_stale_lock_is_harmless(tiny_run, capsys):
    import fcntl

    lock = tiny_run / ".lock"
    with open(lock, "a+") as held:  # another process training the run holds this lock
        fcntl.flock(held, fcntl.LOCK_EX)
        held.truncate(0)
        held.write("4242\n")
        held.flush()
        before = snapshot(tiny_run)
        assert fails(["train", "--resume", str(tiny_run), "--epochs", "3"], capsys) == (
            f"{tiny_run}: process 4242 is training this run now; wait for it to finish (or stop it: kill 4242) before "
            "resuming it (nothing was changed)")
        assert snapshot(tiny_run) == before
    # the holder died (kill -9): its lock file stays, the operating system dropped the lock
    assert lock.read_text() == "4242\n"
    assert main(["train", "--resume", str(tiny_run), "--epochs", "3"]) == 0
    assert json.loads((tiny_run / "config.json").read_text())["train"]["epochs"] == 3
