"""The bad-input matrix (issue 15), its data, name and value cases: every case through the real
CLI, its exact one-line message, exit code 2, no traceback, and nothing left behind (no run
directory under --out, nothing in the gankit cache).  docs/errors.md lists the same cases.

The cases are rows of one table; those that need a trained run live in test_bad_input_runs.py
(checkpoints, directories) and test_bad_input_after_training.py (transfer, synthetic datasets,
walks, CAS, privacy).  Data never comes from the internet: conftest points every mirror at a
closed local port, and the Fashion-MNIST spec is patched so Debian's copy is not found either.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bad_input_helpers import FAST, fails, flat_folder, png

from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_dataset, mnist
from gankit.data.idx import to_idx
from gankit.launch.presets import preset_names
from gankit.models import MODELS
from gankit.runs.load import load_run
from gankit.training.losses import LOSSES

FASHION = mnist.FASHION_MNIST
IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"



@pytest.fixture(autouse=True)
def no_system_copy(monkeypatch):
    """Fashion-MNIST is looked for only where the test puts it (not in Debian's system dir)."""
    monkeypatch.setattr(mnist, "FASHION_MNIST", dataclasses.replace(FASHION, system_dirs=()))


@pytest.fixture
def cache() -> Path:
    return Path(os.environ["GANKIT_CACHE"])  # a fresh, empty folder per test (conftest)


def nothing_left(out: Path, cache: Path) -> None:
    assert not out.exists(), sorted(out.rglob("*"))  # not even an empty --out folder
    # no download, no temp file, no empty cache folder; a folder's decoded images are a whole
    # cache entry (decoded.py), kept for the next start whatever the command then refused
    left = [p for p in cache.rglob("*") if p.relative_to(cache).parts[0] != "decoded"]
    assert left == []
    assert all(p.suffix in (".npy", ".json") for p in (cache / "decoded").glob("*"))  # and no temp file


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


def _config_file(tmp, text: str):
    """`gankit train --config tmp/my.toml` holding `text`: (argv, the file)."""
    f = tmp / "my.toml"
    f.write_text(text)
    return _train(tmp, "--config", str(f)), f


def unknown_option_in_file(tmp):
    argv, f = _config_file(tmp, "[train]\nbatchsize = 8\n")
    return argv, f"{f}: unknown config key 'train.batchsize' (did you mean train.batch_size?)"


def unknown_section_in_file(tmp):
    argv, f = _config_file(tmp, "[trian]\nepochs = 1\n")
    return argv, f"{f}: unknown section [trian] (did you mean train?)"


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
    argv, f = _config_file(tmp, "[train\nbatch_size = 32\n")
    return argv, f"{f}: not valid TOML (Expected ']' at the end of a table declaration (at line 1, column 7))"


def wrong_type_in_toml(tmp):
    argv, f = _config_file(tmp, '[train]\nbatch_size = "big"\n')
    return argv, f"{f}: train.batch_size: expected an integer, got 'big'"


def wrong_type_bool_in_toml(tmp):
    argv, f = _config_file(tmp, '[model]\nconditional = "maybe"\n')  # true, false or auto
    return argv, f"{f}: model.conditional: expected true, false or auto, got 'maybe'"


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
