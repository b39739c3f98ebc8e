"""Decode once (data/decoded.py): a folder is decoded on its first load, in parallel when large,
and read from the cache after; a changed folder, a damaged cache and an unwritable cache are
each handled in one line."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.data import decoded
from gankit.data.folder import load_folder_images
from gankit.errors import GankitError


@pytest.fixture
def folder(tmp_path):
    g = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(7):
            Image.fromarray(g.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    return tmp_path / "imgs"


@pytest.fixture
def decodes(monkeypatch):
    """How many files were decoded (not read from the cache)."""
    count = {"files": 0}
    real = decoded._decode_chunk

    def counting(src, is_zip, chunk, *options):
        count["files"] += len(chunk)
        return real(src, is_zip, chunk, *options)

    monkeypatch.setattr(decoded, "_decode_chunk", counting)
    return count


def same(a, b):
    return torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and a.class_names == b.class_names \
        and a.name == b.name


def test_the_second_load_reads_the_cache(folder, decodes):
    first = load_folder_images(folder)
    assert decodes["files"] == 14 and len(list(decoded.decoded_dir().glob("*.npy"))) == 1
    second = load_folder_images(folder)
    assert decodes["files"] == 14 and same(first, second)  # nothing decoded again
    load_folder_images(folder, resolution=8)  # other options: another entry
    assert decodes["files"] == 28


def test_a_changed_folder_is_decoded_again(folder, decodes):
    load_folder_images(folder)
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(folder / "cat" / "0.png")  # same name, new content
    os.utime(folder / "cat" / "0.png", ns=(1, 1))
    changed = load_folder_images(folder)
    assert decodes["files"] == 28 and int(changed.images[0].sum()) == 0


def test_decode_warnings_come_again_from_the_cache(folder):
    (folder / "cat" / "bad.png").write_bytes(b"not a png")
    for _ in range(2):
        with pytest.warns(UserWarning, match=r"skipped 1 unreadable files \(first: cat/bad.png"):
            assert len(load_folder_images(folder)) == 14


def test_a_damaged_cache_is_rebuilt_with_one_warning(folder, decodes):
    first = load_folder_images(folder)
    (npy,) = decoded.decoded_dir().glob("*.npy")
    npy.write_bytes(npy.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="is damaged or from another gankit .* decoding the images again"):
        again = load_folder_images(folder)
    assert same(first, again) and decodes["files"] == 28
    assert same(first, load_folder_images(folder)) and decodes["files"] == 28  # rebuilt: a hit again


def test_an_unwritable_cache_decodes_in_memory_with_one_warning(folder, monkeypatch, tmp_path):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "file" / "cache"))  # under a file: cannot be made
    with pytest.warns(UserWarning, match="cannot write the decoded-image cache .* decoded in memory"):
        assert len(load_folder_images(folder)) == 14


def test_the_pool_decodes_what_one_process_does(folder, monkeypatch):
    serial = load_folder_images(folder, resolution=8)
    monkeypatch.setattr(decoded, "POOL_FROM", 1)
    monkeypatch.setattr(decoded, "CHUNK", 3)
    monkeypatch.setattr(decoded, "FORMAT", decoded.FORMAT + 100)  # a new key: decoded again, by the pool
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    pooled = load_folder_images(folder, resolution=8)
    assert same(serial, pooled)


def test_a_limit_decodes_little_more_than_it_keeps(folder, decodes):
    assert len(load_folder_images(folder, limit=3)) == 3
    assert decodes["files"] == 64 or decodes["files"] <= 14  # one round of max(limit, 64) files at most


def test_files_changing_while_decoding_are_one_line_and_nothing_cached(folder, monkeypatch):
    real = decoded._decode_chunk

    def and_touch(src, is_zip, chunk, *options):
        out = real(src, is_zip, chunk, *options)
        Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(folder / "dog" / "0.png")  # rewritten meanwhile
        os.utime(folder / "dog" / "0.png", ns=(5, 5))
        return out

    monkeypatch.setattr(decoded, "_decode_chunk", and_touch)
    with pytest.raises(GankitError, match="the files changed while they were being decoded; nothing was cached"):
        load_folder_images(folder)
    assert not decoded.decoded_dir().exists() or not list(decoded.decoded_dir().iterdir())


def test_through_the_cli_a_damaged_cache_is_one_warning_line(folder, tmp_path, capsys):
    assert main(["data", "show", str(folder), "--out", str(tmp_path / "a.png")]) == 0
    (npy,) = decoded.decoded_dir().glob("*.npy")
    npy.write_bytes(b"garbage")
    capsys.readouterr()
    assert main(["data", "show", str(folder), "--out", str(tmp_path / "b.png")]) == 0
    warns = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warns) == 1 and "decoded-image cache" in warns[0] and "decoding the images again" in warns[0]


def test_streamed_images_are_a_memory_map_of_the_cache_with_the_same_pixels(folder):
    held = load_folder_images(folder)
    streamed = load_folder_images(folder, stream="true")
    assert same(held, streamed)
    hit = decoded.load_entry(next(decoded.decoded_dir().glob("*.npy")).stem, "true")
    assert isinstance(hit[0], np.memmap) and not isinstance(decoded.load_entry(
        next(decoded.decoded_dir().glob("*.npy")).stem, "false")[0], np.memmap)


def test_auto_streams_what_does_not_fit_a_quarter_of_the_free_memory(folder, monkeypatch):
    from gankit.runtime import device

    load_folder_images(folder)
    monkeypatch.setattr(device, "free_memory", lambda: 1000)  # 14 images of 12x12x3 = 6,048 bytes
    with pytest.warns(UserWarning, match="over a quarter of the .* free: batches are read from the memory-mapped"):
        assert len(load_folder_images(folder, stream="auto")) == 14
    monkeypatch.setattr(device, "free_memory", lambda: 10**12)
    key = next(decoded.decoded_dir().glob("*.npy")).stem
    assert not isinstance(decoded.load_entry(key, "auto")[0], np.memmap)


def test_training_streamed_or_not_gives_identical_weights(tmp_path):
    from gankit.launch.presets import build_config
    from gankit.launch.start import start_run
    from gankit.runs.load import load_run

    g = np.random.default_rng(1)
    (tmp_path / "gray").mkdir()
    for i in range(64):
        Image.fromarray(g.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / "gray" / f"{i}.png")
    weights = []
    for stream in ("false", "true"):
        cfg = build_config(sets=["data.dataset=folder", f"data.path={tmp_path / 'gray'}", f"data.stream={stream}",
                                 "model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=16",
                                 "train.epochs=2", "train.progress=false", "train.tensorboard=false"])
        run, _ = start_run(cfg, out=tmp_path / stream, announce=False)
        weights.append(load_run(run.path).G.state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_cache_overwritten_at_the_same_size_is_caught_and_rebuilt(folder, decodes):
    """Other pixels of the same shape (another tool wrote the file, a copy from another folder): a
    sampled sha256 in the sidecar catches them on the next load, which decodes again."""
    first = load_folder_images(folder)
    (npy,) = decoded.decoded_dir().glob("*.npy")
    arr = np.load(npy)
    np.save(npy, 255 - arr)  # same shape and dtype, other pixels
    with pytest.warns(UserWarning, match=r"its pixels are not the ones decoded \(a sample's sha256 differs\)"):
        again = load_folder_images(folder)
    assert same(first, again) and decodes["files"] == 28


@pytest.mark.parametrize("sidecar", ["[1, 2]", '{"format": 2, "shape": "x"}', "{not json"])
def test_a_sidecar_of_the_wrong_shape_is_rebuilt_with_one_warning(folder, decodes, sidecar):
    first = load_folder_images(folder)
    (meta,) = decoded.decoded_dir().glob("*.json")
    meta.write_text(sidecar)
    with pytest.warns(UserWarning, match="is damaged or from another gankit .* decoding the images again"):
        again = load_folder_images(folder)
    assert same(first, again) and decodes["files"] == 28
