"""Security: a download is checked against its md5 before anything reads it.

A mirror (here a local server) serving a hostile file with the wrong checksum: the loader
fails with the checksum error, no parser ever sees a byte of it, and the cache is left empty.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile

import pytest

from gankit.data.cifar import BINARY_MD5, BINARY_TAR, load_cifar10_split
from gankit.data.mnist import IdxDataset, IdxFile, load_idx
from gankit.errors import GankitError


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def cache_files(cache) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def forbid(monkeypatch, *targets: str) -> None:
    def parsed(*a, **k):
        raise AssertionError("a file that failed its checksum was parsed")

    for t in targets:
        monkeypatch.setattr(t, parsed)


class RunsCode:
    def __reduce__(self):
        return (open, ("/tmp/gankit-pwned", "w"))


def hostile_cifar_tarball() -> bytes:
    """Named like CIFAR-10: members escaping the folder, a link, and a pickle that runs code."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("../../evil.bin", b"x" * 100), ("/etc/cron.d/evil", b"* * * * * root sh"),
                           ("cifar-10-batches-bin/test_batch.bin", pickle.dumps(RunsCode()))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return buf.getvalue()


def test_cifar_archive_with_the_wrong_checksum_is_never_opened(http_root, isolated_env, monkeypatch):
    root, url = http_root
    payload = hostile_cifar_tarball()
    (root / BINARY_TAR).write_bytes(payload)
    forbid(monkeypatch, "gankit.data.cifar.read_source", "gankit.data.cifar.read_tar_members", "tarfile.open",
           "gankit.data.cifar.loads_data")
    with pytest.raises(GankitError) as e:
        load_cifar10_split("test", mirrors=[url])
    msg = str(e.value)
    assert f"got md5 {md5(payload)}" in msg and f"expected md5 {BINARY_MD5}" in msg and "--data-dir" in msg
    assert cache_files(isolated_env) == []  # not the archive, not its temp file, nothing it names


def test_idx_file_with_the_wrong_checksum_is_never_parsed(http_root, isolated_env, monkeypatch):
    root, url = http_root
    garbage = gzip.compress(b"\x00\x00\x08\x03" + b"\xff" * 12 + b"not the images", mtime=0)
    for base in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (root / f"{base}.gz").write_bytes(garbage)
    good = b"\x00\x00\x08\x01\x00\x00\x00\x00"  # what the spec expects: md5 of an empty label file
    spec = IdxDataset(name="tiny", class_names=("a",),
                      train=(IdxFile("train-images-idx3-ubyte", md5(good), md5(gzip.compress(good))),
                             IdxFile("train-labels-idx1-ubyte", md5(good))),
                      test=(IdxFile("t", "0" * 32), IdxFile("u", "0" * 32)), mirrors=(url,), sizes=(0, 0))
    forbid(monkeypatch, "gankit.data.mnist.read_idx", "gankit.data.idx.parse_idx")
    with pytest.raises(GankitError) as e:
        load_idx(spec, "train")
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and f"got md5 {md5(garbage)}" in msg and md5(good) in msg
    assert cache_files(isolated_env) == []
