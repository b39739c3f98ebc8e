"""Lookup order of dataset files: --data-dir, $GANKIT_DATA, the cache, system dirs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from gankit.data import data_roots
from gankit.data.cache import cache_root, find_file


def test_cache_root_env_overrides_platformdirs(monkeypatch, tmp_path):
    assert cache_root() == tmp_path / "cache"  # set by the autouse fixture
    monkeypatch.delenv("GANKIT_CACHE")
    assert str(cache_root()) == platformdirs.user_cache_dir("gankit")


def test_roots_order(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_DATA", f"{tmp_path / 'e1'}{os.pathsep}{tmp_path / 'e2'}")
    roots = data_roots(tmp_path / "arg", system_dirs=("/usr/share/datasets/x",))
    assert roots == [tmp_path / "arg", tmp_path / "e1", tmp_path / "e2", tmp_path / "cache",
                     Path("/usr/share/datasets/x")]
    assert data_roots(None) == [tmp_path / "e1", tmp_path / "e2", tmp_path / "cache"]


def test_find_file_follows_root_order(monkeypatch, tmp_path):
    names = ["f.gz", "f"]
    arg, env, cache, system = (tmp_path / n for n in ("arg", "env", "cache", "system"))
    monkeypatch.setenv("GANKIT_DATA", str(env))
    placed = [arg / "ds" / "f.gz", env / "f", cache / "ds" / "f.gz", system / "f.gz"]
    for p in placed:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    roots = lambda: data_roots(arg, system_dirs=(str(system),))  # noqa: E731
    for expected in placed:  # each one wins until removed, then the next root's copy does
        assert find_file(names, roots(), "ds") == expected
        expected.unlink()
    assert find_file(names, roots(), "ds") is None


def test_within_a_root_direct_beats_subfolder_and_gz_beats_raw(tmp_path):
    (tmp_path / "ds").mkdir()
    for p in (tmp_path / "f", tmp_path / "ds" / "f.gz"):
        p.write_bytes(b"x")
    assert find_file(["f.gz", "f"], [tmp_path], "ds") == tmp_path / "f"
    (tmp_path / "f.gz").write_bytes(b"x")
    assert find_file(["f.gz", "f"], [tmp_path], "ds") == tmp_path / "f.gz"
