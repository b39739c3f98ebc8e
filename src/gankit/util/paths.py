"""Writable places, checked before work starts: a run, a sweep or an export that can only fail
when it writes its first file should fail before it loads data or computes anything, in one
line that names the path and what to do (docs/errors.md, "Paths").  And the one sentence for
an operating-system error that still reaches the CLI (`os_error_message`)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from gankit.errors import GankitError

MAX_NAME = 100  # characters of a run directory's name (--name): file systems allow 255 bytes in all


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def writable_dir(path: str | Path, what: str) -> Path:
    """`path` is a folder gankit may create files in (it need not exist yet), else a GankitError."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise GankitError(f"{what} {p}: is a file, not a folder; give a folder")
    return _writable_base(p, p, what)


def _writable_base(p: Path, start: Path, what: str) -> Path:
    base = _nearest_existing(start)
    if not base.is_dir():
        raise GankitError(f"{what} {p}: {base} is a file, not a folder; give a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise GankitError(f"{what} {p}: {base} is not writable; choose a folder you can write to "
                          "or fix its permissions")
    return p


def writable_file(path: str | Path, what: str) -> Path:
    """`path` is a file gankit may (over)write: not a folder, in a writable folder."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise GankitError(f"{what} {p}: is a folder; give a file name")
    _writable_base(p, p.parent, what)
    return p


def check_name(name: str, what: str = "--name") -> str:
    if len(name) > MAX_NAME:
        raise GankitError(f"{what}: {len(name)} characters; use at most {MAX_NAME}")
    return name


_HINTS = {
    errno.EACCES: "not permitted: choose a path you can write to or fix its permissions",
    errno.EPERM: "not permitted: choose a path you can write to or fix its permissions",
    errno.EROFS: "a read-only file system: choose a writable path",
    errno.ENOSPC: "no space left on the device: free disk space and run it again",
    errno.ENOTDIR: "a file stands where a folder is needed: choose another path",
    errno.EISDIR: "a folder stands where a file is needed: give a file name",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter one",
    errno.EEXIST: "it exists already: choose another path",
    errno.ENOENT: "it does not exist: check the path",
}


def os_error_message(e: OSError) -> str:
    """One line for an operating-system error: the path, what happened, what to do."""
    where = f"{e.filename}: " if e.filename else ""
    what = e.strerror or str(e)
    hint = _HINTS.get(e.errno or -1, "check the path and its permissions")
    return f"{where}{what} ({hint})"
