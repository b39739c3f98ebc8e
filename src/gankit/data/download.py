"""Download a dataset file from a list of mirrors into the cache, verified, atomically.

A download streams into a hidden temp file next to its destination (gankit.util.atomic), is checked against
the expected md5 (of the file as served, or of its gunzipped content: Debian and some
mirrors recompress), and only then is renamed into place.  Any failure deletes the temp
file and moves on to the next mirror, so the cache never holds a partial or wrong file.
Mirror base URLs can be replaced with $GANKIT_MIRROR_<DATASET> (comma-separated), e.g.
GANKIT_MIRROR_FASHION_MNIST=http://127.0.0.1:8000/ for an internal copy or for tests.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from gankit.data.idx import GZIP_MAGIC
from gankit.errors import GankitError
from gankit.util.atomic import atomic_path

CHUNK = 1 << 20


def mirror_env(dataset: str) -> str:
    return "GANKIT_MIRROR_" + "".join(c if c.isalnum() else "_" for c in dataset.upper())


def mirrors_for(dataset: str, default: tuple[str, ...], override: list[str] | None = None) -> list[str]:
    """Base URLs to try: the explicit override, else $GANKIT_MIRROR_<DATASET>, else the defaults."""
    if override:
        return list(override)
    env = os.environ.get(mirror_env(dataset), "")
    urls = [u.strip() for u in env.split(",") if u.strip()]
    return urls or list(default)


def join_url(base: str, filename: str) -> str:
    return base.rstrip("/") + "/" + filename


def file_md5(path: Path, gunzip: bool = False) -> str:
    """md5 of a file's bytes, or of its decompressed bytes when gunzip and it is gzip."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        is_gz = f.read(2) == GZIP_MAGIC
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f) if (gunzip and is_gz) else f
        while block := stream.read(CHUNK):
            h.update(block)
    return h.hexdigest()


class _Rejected(Exception):
    """The mirror served the wrong bytes: abandon this temp file, try the next mirror."""


def _stream(url: str, dest: Path, timeout: float) -> str:
    """Copy the URL's body into the file dest; return the md5 of what was written."""
    h = hashlib.md5()
    req = urllib.request.Request(url, headers={"User-Agent": "gankit"})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
        total = resp.headers.get("Content-Length")
        got = 0
        while block := resp.read(CHUNK):
            out.write(block)
            h.update(block)
            got += len(block)
        if total is not None and got != int(total):
            raise OSError(f"connection closed after {got} of {total} bytes")
    return h.hexdigest()


def _matches(tmp: Path, served_md5: str, md5s: tuple[str, ...], raw_md5s: tuple[str, ...]) -> str | None:
    """None if the file is the expected one, else a description of what was received."""
    if served_md5 in md5s:
        return None
    if raw_md5s:
        try:
            raw = file_md5(tmp, gunzip=True)
        except (OSError, EOFError, zlib.error):
            raw = "(not valid gzip)"
        if raw in raw_md5s:
            return None
        return f"md5 {served_md5} (decompressed {raw})"
    return f"md5 {served_md5}"


def fetch(
    filename: str,
    dest_dir: Path,
    mirrors: list[str],
    md5s: tuple[str, ...] = (),
    raw_md5s: tuple[str, ...] = (),
    timeout: float = 60.0,
    not_found: str = "",
    fix: str = "",
) -> Path:
    """Download `filename` from the first mirror that serves the expected bytes into dest_dir.

    md5s: accepted md5s of the file as served; raw_md5s: accepted md5s of its gunzipped
    content.  At least one must be given: nothing unverified enters the cache.
    not_found / fix: where the file was looked for and how to get it, for the error.
    """
    if not md5s and not raw_md5s:
        raise ValueError("fetch needs an expected md5")
    made = [d for d in (dest_dir, *dest_dir.parents) if not d.exists()]  # removed again if nothing arrives
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GankitError(f"cannot create the download directory {dest_dir} ({e.strerror or e}); "
                          "set $GANKIT_CACHE to a writable directory or pass --data-dir") from None
    dest = dest_dir / filename
    failures: list[str] = []
    for base in mirrors:
        url = join_url(base, filename)
        print(f"gankit: downloading {url}", file=sys.stderr)
        try:
            with atomic_path(dest) as tmp:  # any failure below removes the temp file
                served = _stream(url, tmp, timeout)
                problem = _matches(tmp, served, md5s, raw_md5s)
                if problem is not None:
                    raise _Rejected(problem)  # verified before the rename, or not renamed at all
            return dest
        except _Rejected as e:
            failures.append(f"{url}: got {e}")
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            failures.append(f"{url}: {reason}")
    for d in made:  # a failed download leaves no empty cache folders behind either
        try:
            d.rmdir()
        except OSError:
            break  # not empty: another download put something there
    expected = " or ".join([*md5s, *(f"{m} of the decompressed bytes" for m in raw_md5s)])
    if not fix:
        url = join_url(mirrors[0], filename) if mirrors else filename
        fix = f"download {url} yourself and pass --data-dir DIR"
    raise GankitError(
        f"{not_found + ' and ' if not_found else ''}downloading {filename} failed ("
        + "; ".join(failures or ["no mirrors"]) + f"; expected md5 {expected}); {fix}"
    )
