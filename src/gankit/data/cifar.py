"""CIFAR-10 from the official binary archive (preferred) or the python archive.

Batches are read straight out of the .tar.gz in memory: nothing is extracted, only
regular-file members with the expected names are read, so link or `../` members cannot
write anywhere.  Binary records are 1 label byte + 3072 bytes of CHW pixels.  The python
batches are pickles and go through `safepickle`, which only admits plain data.
Extracted `cifar-10-batches-bin/` or `cifar-10-batches-py/` directories work too.
"""

from __future__ import annotations

import tarfile
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from gankit.data.cache import data_roots, describe_roots, download_dir, search_dirs
from gankit.data.download import fetch, file_md5, join_url, mirrors_for
from gankit.data.imagedata import ImageData
from gankit.data.safepickle import loads_data
from gankit.errors import GankitError

NAME = "cifar10"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
BINARY_TAR, BINARY_DIR = "cifar-10-binary.tar.gz", "cifar-10-batches-bin"
BINARY_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
PYTHON_TAR, PYTHON_DIR = "cifar-10-python.tar.gz", "cifar-10-batches-py"
PYTHON_MD5 = "c58f30108f718f92721af3b95e74349a"
RECORD = 1 + 3 * 32 * 32
MAX_MEMBER = 64 << 20  # a batch is 10,000 records (~31 MB); a larger declared size is not CIFAR-10


def batch_names(split: str, binary: bool) -> list[str]:
    if split not in ("train", "test"):
        raise GankitError(f"cifar10: unknown split {split!r}; use train or test")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    return [n + ".bin" for n in names] if binary else names


def read_tar_members(path: Path, wanted: list[str]) -> dict[str, bytes]:
    """The bytes of the regular-file members whose base names are in `wanted`."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                p = PurePosixPath(m.name)
                if p.name not in wanted or not m.isfile():
                    continue
                if p.is_absolute() or ".." in p.parts:
                    raise GankitError(f"{path}: suspicious member path {m.name!r}; refusing the archive")
                if p.name in out:
                    raise GankitError(f"{path}: member {p.name} appears twice; refusing the archive")
                if m.size > MAX_MEMBER:  # read into memory below: a forged header could ask for exabytes
                    raise GankitError(f"{path}: member {m.name!r} declares {m.size} bytes, more than a CIFAR-10 "
                                      "batch (~31 MB); the archive is corrupt or not CIFAR-10, get a fresh copy")
                f = tar.extractfile(m)
                out[p.name] = f.read() if f else b""
    except (tarfile.TarError, OSError, EOFError) as e:
        raise GankitError(f"{path}: unreadable tar archive ({e}); delete it and get a fresh copy") from None
    missing = [w for w in wanted if w not in out]
    if missing:
        raise GankitError(f"{path}: archive lacks {', '.join(missing)}; is it the CIFAR-10 archive?")
    return out


def read_dir_members(path: Path, wanted: list[str]) -> dict[str, bytes]:
    missing = [w for w in wanted if not (path / w).is_file()]
    if missing:
        raise GankitError(f"{path}: missing {', '.join(missing)}; re-extract the CIFAR-10 archive")
    return {w: (path / w).read_bytes() for w in wanted}


def parse_binary(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    if len(data) == 0 or len(data) % RECORD:
        raise GankitError(f"{where}: {len(data)} bytes is not a whole number of {RECORD}-byte "
                          "CIFAR-10 records; the file is truncated or not CIFAR-10 binary")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].astype(np.int64)


def parse_python(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    d = loads_data(data, where)
    if not isinstance(d, dict):
        raise GankitError(f"{where}: expected a dict batch, found {type(d).__name__}")
    d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
    x, y = d.get("data"), d.get("labels")
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != RECORD - 1:
        raise GankitError(f"{where}: 'data' is not a uint8 array of shape [N, 3072]")
    if not isinstance(y, list) or len(y) != len(x) or not all(isinstance(v, int) and 0 <= v < 256 for v in y):
        raise GankitError(f"{where}: 'labels' is not a list of {len(x)} integers 0-255")  # 0-9 checked later
    return x.reshape(-1, 3, 32, 32), np.asarray(y, dtype=np.int64)


def find_source(data_dir=None) -> Path | None:
    """The first CIFAR-10 source by lookup order; binary beats python within a directory."""
    for d in search_dirs(data_roots(data_dir), NAME):
        for name in (BINARY_TAR, BINARY_DIR, PYTHON_TAR, PYTHON_DIR):
            if (d / name).exists():
                return d / name
    return None


def read_source(src: Path, split: str, official_md5: str | None = None) -> ImageData:
    """Decode one split from an archive or extracted directory (format judged by its name)."""
    binary = BINARY_DIR in src.name or src.name.startswith("cifar-10-binary")
    wanted = batch_names(split, binary)
    if src.is_dir():
        members = read_dir_members(src, wanted)
    else:
        expected = official_md5 or (BINARY_MD5 if binary else PYTHON_MD5)
        md5 = file_md5(src)
        if md5 != expected:
            warnings.warn(f"{src}: md5 {md5} differs from the official archive's {expected} "
                          "(re-packed?); loading it after structure checks", stacklevel=3)
        members = read_tar_members(src, wanted)
    parse = parse_binary if binary else parse_python
    parts = [parse(members[w], f"{src}:{w}") for w in wanted]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise GankitError(f"{src}: labels outside 0-9; not CIFAR-10")
    return ImageData(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels),
                     list(CLASS_NAMES), f"{NAME}/{split}")


def load_cifar10_split(split: str, data_dir=None, mirrors: list[str] | None = None,
                       md5: str = BINARY_MD5) -> ImageData:
    """A local copy by lookup order, else the binary archive downloaded (md5-checked) into the cache."""
    src = find_source(data_dir)
    if src is None:
        urls = mirrors_for(NAME, MIRRORS, mirrors)
        src = fetch(BINARY_TAR, download_dir(NAME), urls, md5s=(md5,),
                    not_found=f"no CIFAR-10 archive in {describe_roots(data_roots(data_dir), NAME)}",
                    fix=f"download {join_url(urls[0], BINARY_TAR)} yourself and pass --data-dir DIR "
                        f"(file in DIR or DIR/{NAME}/)")
        return read_source(src, split, official_md5=md5)
    return read_source(src, split)


def load_cifar10(cfg, data_dir=None) -> ImageData:
    return load_cifar10_split(cfg.split, data_dir)
