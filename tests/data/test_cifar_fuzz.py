"""Fuzzing the CIFAR-10 readers: binary records, python-batch pickles (through the restricted
unpickler) and the .tar(.gz) archives around them give data or a GankitError, nothing else."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile

import numpy as np
import torch
from fuzz_helpers import loads_or_refuses, mutated
from hypothesis import example, given
from hypothesis import strategies as st

from gankit.data.cifar import BINARY_DIR, RECORD, parse_binary, parse_python, read_source
from gankit.data.imagedata import ImageData
from gankit.data.safepickle import loads_data

BIN_NAMES = [f"data_batch_{i}.bin" for i in range(1, 6)]


def check_pair(out) -> None:
    if out is not None:
        x, y = out
        assert x.dtype == np.uint8 and x.shape[1:] == (3, 32, 32) and y.dtype == np.int64 and len(x) == len(y)


# --------------------------------------------------------------------------------------- binary


@given(st.one_of(st.binary(max_size=64), st.integers(0, 3).flatmap(
    lambda n: st.binary(min_size=n * RECORD, max_size=n * RECORD + 2))))
def test_fuzz_binary_records(data):
    check_pair(loads_or_refuses(parse_binary, data, "fuzz.bin"))


# --------------------------------------------------------------------------------------- pickles

arrays = st.builds(
    lambda dtype, shape, fill: np.full(shape, fill).astype(dtype),
    st.sampled_from(["u1", "i1", "<i4", ">i4", "<f4", "f8", "?", "c16", "S3", "U2", "<u2"]),
    st.lists(st.integers(0, 3), max_size=3).map(tuple), st.integers(0, 255))
plain = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**80, 2**80), st.floats(),
                  st.binary(max_size=8), st.text(max_size=8), arrays)
def containers(inner):
    return st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                     st.dictionaries(st.one_of(st.binary(max_size=6), st.text(max_size=6), st.integers()), inner,
                                     max_size=4))


values = st.recursive(plain, containers, max_leaves=12)
KEYS = st.sampled_from([b"data", b"labels", "data", "labels", b"batch_label", b"filenames"])


@st.composite
def batch_dicts(draw):
    """CIFAR-like batches: the right keys with plausible and implausible values."""
    n = draw(st.integers(0, 3))
    good_x = np.zeros((n, RECORD - 1), np.uint8)
    good_y = draw(st.lists(st.one_of(st.integers(0, 9), st.integers(), st.integers(-2**70, 2**70)),
                           min_size=n, max_size=n))
    d = {b"data": draw(st.one_of(st.just(good_x), values)), b"labels": draw(st.one_of(st.just(good_y), values))}
    d.update(draw(st.dictionaries(KEYS, values, max_size=2)))
    return d


def pickled(obj, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


@given(st.binary(max_size=128))
@example(b"(" * 100_000 + b".")  # deep MARK nesting
@example(b"]" + b"q\x00h\x00a" * 10 + b".")  # self-referencing list
def test_fuzz_pickle_random_bytes(data):
    loads_or_refuses(loads_data, data, "fuzz")
    check_pair(loads_or_refuses(parse_python, data, "fuzz"))


@given(st.one_of(values, batch_dicts()), st.integers(0, 5))
@example({b"data": np.zeros((1, 3072), np.uint8), b"labels": [2**70]}, 4)  # label beyond int64
def test_fuzz_pickled_values(obj, protocol):
    check_pair(loads_or_refuses(parse_python, pickled(obj, protocol), "fuzz"))


@given(st.integers(0, 5).flatmap(lambda p: mutated(
    pickled({b"data": np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072), b"labels": [1, 2]}, p), header=80)))
def test_fuzz_mutated_python_batch(data):
    check_pair(loads_or_refuses(parse_python, data, "fuzz"))


# --------------------------------------------------------------------------------------- archives


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def binary_tar(n: int = 1, gz: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in [f"{BINARY_DIR}/{b}" for b in BIN_NAMES + ["test_batch.bin"]]:
            _add(tar, name, (bytes([3]) + bytes(RECORD - 1)) * n)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


VALID_TAR, VALID_TGZ = binary_tar(gz=False), binary_tar()
SUSPICIOUS = [f"../{BINARY_DIR}/test_batch.bin", "/abs/test_batch.bin", f"{BINARY_DIR}/../../test_batch.bin",
              "test_batch.bin", f"a/b/{BINARY_DIR}/test_batch.bin", "test_batch.bin/", "", "./test_batch.bin"]


@st.composite
def hostile_tars(draw) -> bytes:
    """Archives with odd member names, duplicated members, links and huge declared sizes."""
    names = draw(st.lists(st.one_of(st.sampled_from(SUSPICIOUS), st.sampled_from(BIN_NAMES).map(
        lambda b: f"{BINARY_DIR}/{b}"), st.text(max_size=12)), min_size=1, max_size=8))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in names:
            kind = draw(st.sampled_from([tarfile.REGTYPE] * 4 + [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE]))
            size = draw(st.one_of(st.none(), st.sampled_from([0, 1, RECORD, 2**33, 2**40, 2**62])))
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            data = bytes(RECORD)
            info.size = len(data) if size is None or kind != tarfile.REGTYPE else size
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE and size is None else None)
            if kind == tarfile.REGTYPE and size is not None:  # declared size lies: a short body follows
                buf.write(bytes(512))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if draw(st.booleans()) else raw


def read_archive(tmp_path_factory, data: bytes, name: str = "cifar-10-binary.tar.gz", split: str = "test"):
    src = tmp_path_factory.mktemp("cifar") / name
    src.write_bytes(data)
    out = loads_or_refuses(read_source, src, split)
    if out is not None:
        assert isinstance(out, ImageData) and out.images.dtype == torch.uint8
        assert tuple(out.images.shape[1:]) == (3, 32, 32) and len(out.labels) == len(out.images)
    return out


@given(st.binary(max_size=600))
def test_fuzz_archive_random_bytes(tmp_path_factory, data):
    read_archive(tmp_path_factory, data)


@given(st.one_of(mutated(VALID_TAR, header=1024), mutated(VALID_TGZ, header=32)), st.sampled_from(["train", "test"]))
def test_fuzz_mutated_binary_archive(tmp_path_factory, data, split):
    read_archive(tmp_path_factory, data, split=split)


def forged_size_tar(size: int) -> bytes:
    """test_batch.bin whose header declares `size` bytes, followed by one short block."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(f"{BINARY_DIR}/test_batch.bin")
        info.size = size
        tar.addfile(info)
    return buf.getvalue() + bytes(512)


@given(hostile_tars())
@example(forged_size_tar(2**62))  # was MemoryError: tarfile allocates the declared size
@example(forged_size_tar(2**40))
def test_fuzz_hostile_archive_members(tmp_path_factory, data):
    read_archive(tmp_path_factory, data)


@given(st.integers(0, 5).flatmap(lambda p: mutated(pickled(
    {b"data": np.zeros((1, 3072), np.uint8), b"labels": [3]}, p), header=80)))
def test_fuzz_python_archive(tmp_path_factory, batch):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add(tar, "cifar-10-batches-py/test_batch", batch)
    read_archive(tmp_path_factory, buf.getvalue(), name="cifar-10-python.tar.gz")
