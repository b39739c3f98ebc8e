"""Where dataset files are looked for, in order, and where downloads are cached.

Lookup order: the `--data-dir` argument, then `$GANKIT_DATA` (one or more directories
separated by os.pathsep), then the user cache (`$GANKIT_CACHE`, else
platformdirs.user_cache_dir("gankit")), then read-only system directories such as
/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist.  Each root may hold
a dataset's files directly or in a sub-folder named after the dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from gankit.errors import GankitError
from gankit.util.paths import writable_dir


def cache_root() -> Path:
    """The user cache directory: $GANKIT_CACHE if set (tests use it), else the platform's."""
    env = os.environ.get("GANKIT_CACHE", "").strip()
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("gankit"))


def check_cache() -> Path:
    """The cache is a folder gankit can write to (reference features, evaluators, downloads go
    there): checked before a run or an evaluation starts, not after minutes of work."""
    try:
        return writable_dir(cache_root(), "the gankit cache")
    except GankitError as e:
        raise GankitError(f"{e} (or point $GANKIT_CACHE at a writable folder)") from None


def download_dir(dataset: str) -> Path:
    """Where a download of `dataset` is stored (created by the downloader when needed)."""
    return cache_root() / dataset


def data_roots(data_dir: str | Path | None = None, system_dirs: tuple[str, ...] = ()) -> list[Path]:
    """The roots searched for dataset files, best first (duplicates removed)."""
    roots: list[Path] = []
    if data_dir:
        roots.append(Path(data_dir).expanduser())
    for part in os.environ.get("GANKIT_DATA", "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser())
    roots.append(cache_root())
    roots.extend(Path(d) for d in system_dirs)
    seen: set[Path] = set()
    unique = []
    for r in roots:
        if r not in seen:
            seen.add(r)
            unique.append(r)
    return unique


def search_dirs(roots: list[Path], dataset: str) -> list[Path]:
    """Each root, then its `<dataset>/` sub-folder: the directories actually probed."""
    out: list[Path] = []
    for r in roots:
        out += [r, r / dataset]
    return out


def find_file(names: list[str], roots: list[Path], dataset: str) -> Path | None:
    """The first existing file among `names` (e.g. x.gz, x) in the search dirs, by root order."""
    for d in search_dirs(roots, dataset):
        for n in names:
            p = d / n
            if p.is_file():
                return p
    return None


def describe_roots(roots: list[Path], dataset: str) -> str:
    return ", ".join(f"{r}[/{dataset}]" for r in roots)
