"""Atomic writes (gankit.util.atomic) and every call site that uses them: a failure mid-write
leaves the previous file intact and no temporary file behind.  (Downloads: tests/data/test_download.py.)"""

from __future__ import annotations

import errno
import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.metrics.reference as reference
import gankit.runs.checkpoint as checkpoint
from gankit.errors import GankitError
from gankit.report.plots import write_plots
from gankit.runs.checkpoint import load_state, save_state
from gankit.runs.layout import RunDir
from gankit.util.atomic import atomic_path, atomic_write
from gankit.util.imageio import save_image


def listing(d):
    return sorted(p.name for p in d.iterdir())


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def half_then_enospc(path_arg):
    """A writer that gets half way into the file and then finds the disk full."""
    with open(path_arg, "wb") as f:
        f.write(b"\x00half a file")
    enospc()


# ---------------------------------------------------------------- the helper itself


def test_atomic_write_writes_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.json"
    assert atomic_write(p, '{"x": 1}\n') == p
    assert p.read_text() == '{"x": 1}\n'
    atomic_write(p, b"\x00\x01")  # bytes too, and replacing an existing file
    assert p.read_bytes() == b"\x00\x01"
    assert listing(tmp_path) == ["a.json"]


def test_atomic_write_creates_parent_dirs(tmp_path):
    p = tmp_path / "x" / "y" / "z.txt"
    atomic_write(p, "é")
    assert p.read_bytes() == "é".encode()


def test_exception_in_block_keeps_original_and_removes_temp(tmp_path):
    p = tmp_path / "keep.txt"
    p.write_text("original")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert p.read_text() == "original"
    assert listing(tmp_path) == ["keep.txt"]


def test_exception_without_previous_file_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "new.bin") as tmp:
            tmp.write_bytes(b"x")
            raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_temp_name_is_hidden_unique_and_keeps_the_suffix(tmp_path):
    p = tmp_path / "plot.png"
    with atomic_path(p) as t1, atomic_path(p) as t2:
        assert t1 != t2 and t1.parent == t2.parent == tmp_path  # concurrent writers never collide
        assert t1.name.startswith(".plot.png.") and t1.name.endswith(".tmp.png")
        t1.write_bytes(b"1")
        t2.write_bytes(b"2")
    assert p.read_bytes() == b"1"  # the outer block finished last; the last rename wins
    assert listing(tmp_path) == ["plot.png"]


def test_fsync_is_called_on_the_file(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def recording(fd):
        synced.append(os.fstat(fd).st_ino)
        return real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    p = atomic_write(tmp_path / "f.txt", "data")
    assert p.stat().st_ino in synced  # the rename keeps the inode: it was the file that was synced


def test_fsync_failure_keeps_original_and_removes_temp(tmp_path, monkeypatch):
    p = tmp_path / "f.txt"
    p.write_text("old")
    monkeypatch.setattr(os, "fsync", enospc)
    with pytest.raises(OSError) as e:
        atomic_write(p, "new")
    assert e.value.errno == errno.ENOSPC
    assert p.read_text() == "old" and listing(tmp_path) == ["f.txt"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_final_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600


# ---------------------------------------------------------------- checkpoints


def _state(v: float) -> dict:
    return {"step": int(v), "w": torch.full((3, 4), v)}


def test_checkpoint_enospc_on_fsync_keeps_previous_loadable(tmp_path, monkeypatch):
    p = tmp_path / "last.safetensors"
    save_state(_state(1.0), p)
    monkeypatch.setattr(os, "fsync", enospc)
    with pytest.raises(GankitError, match=r"could not save the checkpoint .*last.safetensors \(.+\); the previous "
                                          r"last.safetensors is intact; free disk space"):
        save_state(_state(2.0), p)  # one line for the user, not an OSError traceback
    back = load_state(p)
    assert back["step"] == 1 and torch.equal(back["w"], torch.full((3, 4), 1.0))
    assert listing(tmp_path) == ["last.safetensors"]


def test_checkpoint_enospc_mid_write_keeps_previous_loadable(tmp_path, monkeypatch):
    p = tmp_path / "last.safetensors"
    save_state(_state(1.0), p)
    monkeypatch.setattr(checkpoint, "save_file", lambda tensors, path, metadata=None: half_then_enospc(path))
    with pytest.raises(GankitError, match="the previous last.safetensors is intact"):
        save_state(_state(2.0), p)
    assert load_state(p)["step"] == 1
    assert listing(tmp_path) == ["last.safetensors"]


# ---------------------------------------------------------------- images and plots


def test_save_image_failure_keeps_previous_png(tmp_path, monkeypatch):
    p = tmp_path / "fixed_e0001.png"
    save_image(np.full((4, 5, 3), 7, np.uint8), p)
    with monkeypatch.context() as m, pytest.raises(OSError):
        m.setattr(Image.Image, "save", lambda self, fp, *a, **k: half_then_enospc(fp))
        save_image(np.zeros((4, 5, 3), np.uint8), p)
    assert np.array_equal(np.asarray(Image.open(p)), np.full((4, 5, 3), 7, np.uint8))
    assert listing(tmp_path) == ["fixed_e0001.png"]


def test_plot_failure_keeps_previous_plot(tmp_path, monkeypatch):
    import matplotlib.figure

    run = RunDir(tmp_path)
    run.stats_file.write_text("".join(json.dumps({"epoch": e, "g_loss": 1.0 / e}) + "\n" for e in (1, 2, 3)))
    assert run.plots / "losses.png" in write_plots(run)
    before = (run.plots / "losses.png").read_bytes()
    assert before.startswith(b"\x89PNG")
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, fname, **k: half_then_enospc(fname))
    with pytest.raises(OSError):
        write_plots(run)
    assert (run.plots / "losses.png").read_bytes() == before
    assert listing(run.plots) == ["losses.png"]


# ---------------------------------------------------------------- reference cache


def _embed(images):
    n = images.shape[0]
    return torch.arange(n * 2, dtype=torch.float32).reshape(n, 2), torch.zeros(n, 3)


def test_reference_embedding_failure_keeps_previous_cache(monkeypatch):
    feats, _ = reference.cached_embedding("k", torch.zeros(4, 1, 2, 2, dtype=torch.uint8), _embed)
    assert feats.shape[0] == 4
    with monkeypatch.context() as m, pytest.raises(OSError):  # another image count: recomputed, write fails
        m.setattr(reference, "save_file", lambda tensors, path: half_then_enospc(path))
        reference.cached_embedding("k", torch.zeros(5, 1, 2, 2, dtype=torch.uint8), _embed)
    d = reference.reference_dir()
    assert listing(d) == ["k.safetensors"]
    again = reference.cached_embedding("k", torch.zeros(4, 1, 2, 2, dtype=torch.uint8), lambda x: 1 / 0)
    assert torch.equal(again[0], feats)  # still served from the intact previous file


def test_reference_json_failure_keeps_previous_cache(monkeypatch):
    assert reference.cached_json("floor", lambda: {"fid": 1.5}) == {"fid": 1.5}
    path = reference.reference_dir() / "floor.json"
    path.write_text("not json")  # a broken entry forces a recompute
    monkeypatch.setattr(os, "fsync", enospc)
    with pytest.raises(OSError):
        reference.cached_json("floor", lambda: {"fid": 2.5})
    assert path.read_text() == "not json"
    assert listing(reference.reference_dir()) == ["floor.json"]
