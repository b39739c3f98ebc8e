"""Decode a folder or zip once: in parallel, into a uint8 `.npy` in the gankit cache.

Decoding thousands of PNG/JPEG files one by one on one thread at every start (every resume,
every sweep trial) costs more than a short run.  So the folder loader (folder.py) asks here
first: the decoded images are stored as `<cache>/decoded/<key>.npy` (uint8 [N,C,H,W], which
`np.load(mmap_mode="r")` can map without reading) beside `<key>.json` (labels, class names,
the dataset name and the warnings decoding gave, shown again on every load).  The key is a
sha256 of the cache format, the source's path, every selected file's name, size and mtime (a
zip member's CRC and size), and the decoding options: a changed folder is a new key and is
decoded again.  A truncated or foreign cache file is rebuilt (one warning); an unwritable cache
folder means decoding in memory (one warning).  Large folders are decoded by a process pool,
each worker reading its own chunk of files (a zip is opened once per chunk).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from gankit.data.decode import DECODE_ERRORS, decode_noted, read_member, why_unreadable
from gankit.errors import GankitError, GankitWarning
from gankit.util.atomic import atomic_path, atomic_write
from gankit.util.jsonfile import DamagedFile, read_object

SAMPLED = 256  # images hashed on every load (sample_sha256)
FORMAT = 2  # bump when the files' layout or the decoding changes: older entries are then rebuilt
POOL_FROM = 2000  # files; below this a pool costs more than it saves
CHUNK = 500


def decoded_dir() -> Path:
    from gankit.data.cache import cache_root

    return cache_root() / "decoded"


def source_key(src: Path, zf: zipfile.ZipFile | None, selected: list[tuple[str, ...]], options: dict) -> str:
    """sha256 of what decoding depends on: the format, the files (name, size, mtime or CRC) and the options."""
    h = hashlib.sha256(json.dumps({"format": FORMAT, "src": str(src.resolve()), **options}, sort_keys=True).encode())
    root = str(src)
    for parts in selected:
        if zf is not None:
            info = zf.getinfo("/".join(parts))
            h.update(f"{info.filename}\0{info.CRC}\0{info.file_size}\n".encode())
        else:
            try:
                st = os.stat(os.path.join(root, *parts))  # not pathlib: 50,000 stats in a fraction of the time
            except OSError:  # a dangling link or a link loop: skipped as unreadable when decoded
                h.update(f"{'/'.join(parts)}\0unreadable\n".encode())
                continue
            h.update(f"{'/'.join(parts)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def should_stream(nbytes: int, setting: str = "auto") -> bool:
    """data.stream: true/false as set; auto streams images over a quarter of the free memory (one line)."""
    from gankit.runtime.device import free_memory

    if setting != "auto":
        return setting == "true"
    free = free_memory()
    if free is None or nbytes <= free // 4:
        return False
    warnings.warn(GankitWarning(f"the decoded images take {nbytes / 2**30:.1f} GiB, over a quarter of the "
                                f"{free / 2**30:.1f} GiB free: batches are read from the memory-mapped cache "
                                "(data.stream=auto; set data.stream=false to hold them in memory)"), stacklevel=3)
    return True


def load_entry(key: str, stream: str = "false"):
    """(images uint8 [N,C,H,W], meta dict) from the cache, or None (absent, or rebuilt after one warning).
    Streamed (see `should_stream`): the images are a copy-on-write memory map of the file, read
    page by page as batches index them, so a dataset larger than memory trains; else one in-RAM copy."""
    npy, meta_file = decoded_dir() / f"{key}.npy", decoded_dir() / f"{key}.json"
    if not (npy.is_file() and meta_file.is_file()):
        return None
    try:
        meta = read_object(meta_file, "")  # damaged: rebuilt below, with one warning
        images = np.load(npy, mmap_mode="r", allow_pickle=False)
        if meta.get("format") != FORMAT or images.dtype != np.uint8 or list(images.shape) != meta["shape"]:
            raise ValueError(f"format {meta.get('format')}, {images.dtype} {list(images.shape)}")
        if sample_sha256(images) != meta.get("sample_sha256"):  # overwritten at the same size: other pixels
            raise ValueError("its pixels are not the ones decoded (a sample's sha256 differs)")
        if should_stream(images.nbytes, stream):
            return np.load(npy, mmap_mode="c", allow_pickle=False), meta  # writable view, nothing read yet
        return np.array(images), meta  # read into memory (a writable copy of the mapped file)
    except (OSError, ValueError, KeyError, TypeError, DamagedFile) as e:
        reason = " ".join(str(e).split()).removesuffix(";")[:120]
        warnings.warn(GankitWarning(f"decoded-image cache {npy} is damaged or from another gankit ({reason}); "
                                    "decoding the images again"), stacklevel=3)
        return None


def sample_sha256(images: np.ndarray) -> str:
    """sha256 of SAMPLED images spread evenly over the array (all of them when fewer) and of its shape:
    a check on every load that costs the same for a folder of any size, and reads a streamed cache's
    pages for those images only.  An overwrite that changes any sampled image is caught; hashing
    every pixel on each load would cost a full read of a dataset larger than memory."""
    h = hashlib.sha256(json.dumps(list(images.shape)).encode())
    for i in np.unique(np.linspace(0, len(images) - 1, num=min(SAMPLED, len(images))).astype(np.int64)):
        h.update(np.ascontiguousarray(images[i]).tobytes())
    return h.hexdigest()


def save_entry(key: str, images: np.ndarray, meta: dict) -> None:
    """Write the entry (atomically); an unwritable cache is one warning, the images stay in memory."""
    folder = decoded_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / f"{key}.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, images, allow_pickle=False)
        atomic_write(folder / f"{key}.json", json.dumps({**meta, "format": FORMAT, "shape": list(images.shape),
                                                         "sample_sha256": sample_sha256(images)}))
    except OSError as e:
        warnings.warn(GankitWarning(f"cannot write the decoded-image cache in {folder} ({e.strerror or e}); the "
                                    "images were decoded in memory and will be decoded again next time"),
                      stacklevel=3)


def _decode_chunk(src: str, is_zip: bool, chunk: list[tuple[str, ...]], channels: int, resolution: int,
                  crop: str = "center", background: str = "white") -> list:
    """In a worker: [(image or None, error line or None, [warning lines], [conversions])] for each file."""
    zf = zipfile.ZipFile(src) if is_zip else None
    out = []
    try:
        for parts in chunk:
            try:
                with warnings.catch_warnings(record=True) as said:
                    warnings.simplefilter("always")
                    data = read_member(zf, "/".join(parts)) if zf else Path(src).joinpath(*parts).read_bytes()
                    img, conversions = decode_noted(data, channels, resolution, crop, background)
                out.append((img, None, [" ".join(str(w.message).split()) for w in said], conversions))
            except DECODE_ERRORS as e:
                out.append((None, why_unreadable(parts, e), [], []))
    finally:
        if zf:
            zf.close()
    return out


def decode_files(src: Path, is_zip: bool, files: list[tuple[str, ...]], channels: int, resolution: int,
                 crop: str = "center", background: str = "white", workers: int | None = None):
    """Yield (parts, image or None, error or None, warnings, conversions) for `files` in order; a process pool
    decodes chunks of them when there are many (`workers`: default the cores)."""
    chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
    workers = workers or os.cpu_count() or 1
    if len(files) < POOL_FROM or workers < 2:
        for chunk in chunks:
            for parts, result in zip(chunk, _decode_chunk(str(src), is_zip, chunk, channels, resolution, crop,
                                                          background)):
                yield (parts, *result)
        return
    try:  # fork: the workers need nothing but this module, and start in milliseconds
        context = get_context("fork")
    except ValueError:
        context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_decode_chunk, str(src), is_zip, chunk, channels, resolution, crop, background)
                   for chunk in chunks]
        for chunk, future in zip(chunks, futures):
            for parts, result in zip(chunk, future.result()):
                yield (parts, *result)


def check_unchanged(key: str, src: Path, selected: list[tuple[str, ...]], options: dict) -> None:
    """After decoding: the files are what they were when decoding began, or a GankitError."""
    zf = zipfile.ZipFile(src) if src.is_file() else None
    try:
        now = source_key(src, zf, selected, options)
    except (OSError, KeyError) as e:
        now = f"gone: {e}"
    finally:
        if zf:
            zf.close()
    if now != key:
        raise GankitError(f"data.path={src}: the files changed while they were being decoded; nothing was cached, "
                          "run again once the folder is complete")
