"""The bad-input matrix (issue 15): every case through the real CLI, its exact one-line message,
exit code 2, no traceback, and nothing left behind (no run directory under --out, nothing in
the gankit cache).  docs/errors.md lists the same cases with their messages.

Most cases are rows of one table; the checkpoint and directory cases need a trained run and
have their own tests.  Data never comes from the internet: conftest points every mirror at a
closed local port, and the Fashion-MNIST spec is patched so Debian's copy is not found either.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.checkpoint import load_state, save_state
from gankit.cli import main
from gankit.configure import preset_names
from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data import mnist
from gankit.data.idx import to_idx
from gankit.losses import LOSSES
from gankit.models import MODELS
from gankit.rundir import create_run_dir, load_run

FASHION = mnist.FASHION_MNIST
IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
FAST = ["--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "train.batch_size=16",
        "--set", "train.max_steps=2", "--set", "train.epochs=1", "--set", "train.progress=false",
        "--set", "train.tensorboard=false"]


@pytest.fixture(autouse=True)
def no_system_copy(monkeypatch):
    """Fashion-MNIST is looked for only where the test puts it (not in Debian's system dir)."""
    monkeypatch.setattr(mnist, "FASHION_MNIST", dataclasses.replace(FASHION, system_dirs=()))


@pytest.fixture
def cache() -> Path:
    return Path(os.environ["GANKIT_CACHE"])  # a fresh, empty folder per test (conftest)


def error_line(capsys) -> str:
    """The one `gankit: error:` line of stderr (after any `gankit: downloading/warning` lines)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines and lines[-1].startswith("gankit: error: "), err
    assert all(line.startswith(("gankit: downloading ", "gankit: warning: ")) for line in lines[:-1]), err
    return lines[-1][len("gankit: error: "):]


def fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    return error_line(capsys)


def nothing_left(out: Path, cache: Path) -> None:
    assert not out.exists(), sorted(out.rglob("*"))  # not even an empty --out folder
    assert sorted(cache.rglob("*")) == []  # no download, no temp file, no empty cache folder


def png(value: int, size=(28, 28)) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def flat_folder(root: Path, n: int = 32) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


def idx_gz(arr: np.ndarray) -> bytes:
    return gzip.compress(to_idx(arr), mtime=0)


# --------------------------------------------------------------------------------------------
# the table: (id, build(tmp) -> (argv, expected message)); `tmp` holds the bad input, `tmp/runs`
# is --out, and no case may create it.  An expected message is a string (compared in full) or
# a compiled regex (fullmatch) where the OS words part of it.


def _fashion(tmp: Path, images: bytes | None, labels: bytes = b"unread: the images fail first"):
    d = tmp / "data"
    d.mkdir()
    if images is not None:
        (d / IMAGES).write_bytes(images)
        (d / LABELS).write_bytes(labels)
    return ["train", "--data-dir", str(d), "--out", str(tmp / "runs"), *FAST], d


def missing_files(tmp):
    argv, d = _fashion(tmp, None)
    cache = os.environ["GANKIT_CACHE"]
    url = "http://127.0.0.1:9/train-images-idx3-ubyte.gz"
    return argv, re.compile(re.escape(
        f"fashion-mnist/train-images-idx3-ubyte(.gz) not found in {d}[/fashion-mnist], {cache}[/fashion-mnist] "
        f"and downloading train-images-idx3-ubyte.gz failed ({url}: ") + r"\[Errno \d+\] Connection refused"
        + re.escape(f"; expected md5 {FASHION.train[0].gz_md5} or {FASHION.train[0].md5} of the decompressed "
                    f"bytes); download {url} yourself and pass --data-dir DIR (file in DIR or DIR/fashion-mnist/)"))


def wrong_checksum(tmp):
    arr = np.zeros((3, 28, 28), np.uint8)
    argv, d = _fashion(tmp, idx_gz(arr))
    got = hashlib.md5(to_idx(arr)).hexdigest()
    return argv, (f"{d / IMAGES}: md5 of the decompressed content is {got}, expected {FASHION.train[0].md5}; the "
                  "file is corrupt or not the official one: delete it (a fresh copy is downloaded) or replace it")


def truncated_gzip(tmp):
    argv, d = _fashion(tmp, idx_gz(np.zeros((3, 28, 28), np.uint8))[:-12])
    return argv, (f"{d / IMAGES}: corrupt gzip data (Compressed file ended before the end-of-stream marker was "
                  "reached); delete it and get a fresh copy")


def not_gzip(tmp):
    argv, d = _fashion(tmp, b"<html>404 Not Found</html>")  # what a captive portal saves as the .gz
    return argv, (f"{d / IMAGES}: named .gz but neither gzip data nor an IDX file (starts with 3c68746d); "
                  "delete it and get a fresh copy")


def wrong_magic(tmp):
    raw = bytearray(to_idx(np.zeros((3, 28, 28), np.uint8)))
    raw[:2] = b"\x12\x34"
    argv, d = _fashion(tmp, gzip.compress(bytes(raw), mtime=0))
    return argv, (f"{d / IMAGES}: not an IDX file (magic number 12340803; expected 0000 then a type code 08-0e and "
                  "the number of dimensions); the file is corrupt or not IDX, get a fresh copy")


def counts_differ(tmp, monkeypatch):
    # checksums are checked before counts, so the spec is given these files' checksums: this is
    # what a pair of files from two different (self-consistent) copies looks like
    images, labels = np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8)
    argv, d = _fashion(tmp, idx_gz(images), idx_gz(labels))
    md5 = [hashlib.md5(to_idx(a)).hexdigest() for a in (images, labels)]
    spec = dataclasses.replace(FASHION, system_dirs=(), sizes=(3, 3), train=(
        mnist.IdxFile("train-images-idx3-ubyte", md5[0]), mnist.IdxFile("train-labels-idx1-ubyte", md5[1])))
    monkeypatch.setattr(mnist, "FASHION_MNIST", spec)
    return argv, (f"{d / IMAGES} holds 3 images but {d / LABELS} holds 2 labels; the two files do not belong "
                  "together: get both of the train split from the same copy")


def _folder(tmp, files: dict[str, bytes]):
    d = tmp / "imgs"
    d.mkdir()
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    return ["train", "--set", "data.dataset=folder", "--set", f"data.path={d}", "--out", str(tmp / "runs"), *FAST], d


def empty_folder(tmp):
    argv, d = _folder(tmp, {})
    return argv, (f"{d}: no files found; put images in it (one sub-folder per class, or all of them directly in it "
                  "for one class)")


def only_non_images(tmp):
    argv, d = _folder(tmp, {"a.txt": b"hello", "notes.csv": b"x,y\n1,2\n"})
    return argv, (f"{d}: none of the 2 files is a readable image (first: a.txt: not an image file Pillow can "
                  "read); put PNG, JPEG, ... images there or fix data.path")


def only_corrupt_images(tmp):
    argv, d = _folder(tmp, {"x.png": b"not a png at all", "y.png": png(3)[:20]})
    return argv, (f"{d}: none of the 2 files is a readable image (first: x.png: corrupt, not a valid PNG file); "
                  "put PNG, JPEG, ... images there or fix data.path")


def _train(tmp, *args):
    return ["train", "--out", str(tmp / "runs"), *FAST, *args]


def unknown_preset(tmp):
    return _train(tmp, "--preset", "dcgn"), (f"unknown preset 'dcgn' (did you mean dcgan?); choose one of: "
                                             f"{', '.join(preset_names())}")


def unknown_model(tmp):
    return _train(tmp, "--set", "model.name=dcgn"), ("invalid config: model.name='dcgn' (did you mean dcgan?); "
                                                     f"choose one of: {', '.join(sorted(MODELS))}")


def unknown_loss(tmp):
    return _train(tmp, "--set", "loss.name=hinj"), ("invalid config: loss.name='hinj' (did you mean hinge?); "
                                                    f"choose one of: {', '.join(sorted(LOSSES))}")


def unknown_option(tmp):
    return (_train(tmp, "--set", "train.batchsize=8"),
            "unknown config key 'train.batchsize' (did you mean train.batch_size?)")


def unknown_option_in_file(tmp):
    f = tmp / "my.toml"
    f.write_text("[train]\nbatchsize = 8\n")
    return _train(tmp, "--config", str(f)), (f"{f}: unknown config key 'train.batchsize' (did you mean "
                                             "train.batch_size?)")


def unknown_section_in_file(tmp):
    f = tmp / "my.toml"
    f.write_text("[trian]\nepochs = 1\n")
    return _train(tmp, "--config", str(f)), f"{f}: unknown section [trian] (did you mean train?)"


def lr_zero(tmp):
    return (_train(tmp, "--set", "optim.g_lr=0"),
            "invalid config: optim.g_lr=0.0; a learning rate must be > 0 (e.g. 2e-4)")


def lr_negative(tmp):
    return _train(tmp, "--set", "optim.d_lr=-1e-4"), ("invalid config: optim.d_lr=-0.0001; a learning rate must be "
                                                      "> 0 (e.g. 2e-4)")


def batch_size_zero(tmp):
    return _train(tmp, "--set", "train.batch_size=0"), "invalid config: train.batch_size=0; must be >= 1"


def epochs_zero(tmp):
    return _train(tmp, "--epochs", "0"), "invalid config: train.epochs=0; must be >= 1"


def epochs_negative(tmp):
    return _train(tmp, "--epochs", "-3"), "invalid config: train.epochs=-3; must be >= 1"


def grid_size_zero(tmp):
    return _train(tmp, "--set", "train.grid_size=0"), "invalid config: train.grid_size=0; must be >= 1"


def resolution_unbuildable(tmp):
    # the data loads (it must, to know the image shape), then the model fails: before any run directory
    d = flat_folder(tmp / "imgs", 16)
    return (_train(tmp, "--set", "data.dataset=folder", "--set", f"data.path={d}", "--set", "data.resolution=30"),
            "dcgan cannot build a 30px model; use a resolution of 4..7 times a power of two (28, 32, 64, ...) via "
            "data.resolution")


def malformed_toml(tmp):
    f = tmp / "my.toml"
    f.write_text("[train\nbatch_size = 32\n")
    return _train(tmp, "--config", str(f)), (f"{f}: not valid TOML (Expected ']' at the end of a table declaration "
                                             "(at line 1, column 7))")


def wrong_type_in_toml(tmp):
    f = tmp / "my.toml"
    f.write_text('[train]\nbatch_size = "big"\n')
    return _train(tmp, "--config", str(f)), f"{f}: train.batch_size: expected an integer, got 'big'"


def wrong_type_bool_in_toml(tmp):
    f = tmp / "my.toml"
    f.write_text('[model]\nconditional = "maybe"\n')
    return _train(tmp, "--config", str(f)), f"{f}: model.conditional: expected true or false, got 'maybe'"


CASES = [missing_files, wrong_checksum, truncated_gzip, not_gzip, wrong_magic, counts_differ,
         empty_folder, only_non_images, only_corrupt_images,
         unknown_preset, unknown_model, unknown_loss, unknown_option, unknown_option_in_file, unknown_section_in_file,
         lr_zero, lr_negative, batch_size_zero, epochs_zero, epochs_negative, grid_size_zero, resolution_unbuildable,
         malformed_toml, wrong_type_in_toml, wrong_type_bool_in_toml]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_is_one_exact_line_exit_2_and_leaves_nothing(case, tmp_path, cache, capsys, monkeypatch):
    argv, expected = case(tmp_path, monkeypatch) if case is counts_differ else case(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    msg = fails(argv, capsys)
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(msg), f"{msg}\n!~\n{expected.pattern}"
    else:
        assert msg == expected
    assert sorted(tmp_path.rglob("*")) == before  # the bad input is untouched, nothing was added beside it
    nothing_left(tmp_path / "runs", cache)


# --------------------------------------------------------------------------------------------
# a flat folder is not an error: one unlabelled class


def test_a_flat_folder_without_class_folders_trains_as_one_class(tmp_path, capsys):
    d = flat_folder(tmp_path / "imgs", 32)
    data = load_dataset(DataConfig(dataset="folder", path=str(d)))
    assert data.class_names == [] and len(data) == 32 and set(data.labels.tolist()) == {0}
    out = tmp_path / "runs"
    assert main(["train", "--set", "data.dataset=folder", "--set", f"data.path={d}", "--out", str(out), *FAST]) == 0
    assert "Traceback" not in capsys.readouterr().err
    loaded = load_run(out / "0001-dcgan")
    assert loaded.class_names == [] and loaded.step == 2 and loaded.prior.tolist() == [1.0]


# --------------------------------------------------------------------------------------------
# checkpoints: another architecture, another gankit version


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
    from gankit.checkpoint import FORMAT

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


# --------------------------------------------------------------------------------------------
# the installed command: a real process, exit status 2, one stderr line, no traceback


def gankit_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("gankit")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "gankit"]


@pytest.mark.parametrize("case", [unknown_preset, malformed_toml, only_corrupt_images],
                         ids=lambda c: c.__name__)
def test_the_gankit_command_exits_2_with_one_line(case, tmp_path, cache):
    argv, expected = case(tmp_path)
    p = subprocess.run(gankit_cmd() + argv, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONWARNINGS": ""})
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [f"gankit: error: {expected}"]
    nothing_left(tmp_path / "runs", cache)
