"""The one SHA-256 of a file, the one slug of a name (run directories, studies, trials) and the one
redaction of a URL's password (storage and tracking URLs in messages and files)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (weights files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def slug(name: str, keep: str = "_.-") -> str:
    """`name` with every run of characters other than letters, digits and `keep` made one "-"."""
    return re.sub(rf"[^A-Za-z0-9{re.escape(keep)}]+", "-", name)


def redact(url: str) -> str:
    """A URL without its password (`scheme://user:***@host`), for messages and files."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def has_credentials(url: str) -> bool:
    """Whether a URL carries `user@` or `user:password@` before its host."""
    return re.match(r"[A-Za-z][\w+.-]*://[^/@]+@", url) is not None
