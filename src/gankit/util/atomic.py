"""Atomic file writes: the one way gankit writes a file that must never be half-written.

Checkpoints, metrics, the report, the reference cache, plots, sample images and downloads
are all written through `atomic_path`: the data goes to a uniquely named temporary file in
the destination's directory, is fsync'ed, and is then renamed over the destination with
os.replace.  So

* a reader (another process, a later run) sees either the previous file or the new one,
  never half a file;
* a crash, a kill or a full disk (ENOSPC) while writing leaves the previous file intact;
* the temporary file is removed on any failure, so nothing stale accumulates;
* concurrent writers of the same destination never share a temporary file (the last
  rename wins, and each rename is of a complete file).

The temporary name keeps the destination's suffix at its very end (".name.XXXX.tmp.png")
for libraries that infer the format from it (PIL, matplotlib).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write", "stale_temps"]


def _create_temp(path: Path) -> Path:
    """Create a new, empty, uniquely named file next to `path` and return its name.

    Created with O_EXCL and mode 0o666 (less the umask), so it never collides with another
    writer and the final file gets the same permissions as one written with open().
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            os.close(os.open(tmp, flags, 0o666))
            return tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


_TEMP = re.compile(r"^\..+\.\d+-[0-9a-f]{8}\.tmp")


def stale_temps(directory: Path) -> list[Path]:
    """Temporary files `atomic_path` left in `directory` when its process was killed mid-write."""
    return [p for p in Path(directory).iterdir() if p.is_file() and _TEMP.match(p.name)] if Path(directory).is_dir() else []


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; best effort (Windows cannot open a directory, some file
    systems refuse fsync on one)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path` atomically.

        with atomic_path(out) as tmp:
            save_file(tensors, str(tmp))

    The caller writes the complete file to the yielded path (it exists, empty).  On normal
    exit the file is fsync'ed, renamed onto `path` with os.replace, and the directory is
    fsync'ed.  If the block raises (or the fsync/rename fails), the temporary file is
    removed, `path` is left as it was, and the exception propagates; to abandon a write
    without replacing, raise inside the block and catch it outside.  The parent directory
    is created if missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Atomically replace `path` with `data` (str is written as UTF-8); returns the path."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(raw)
    return path
