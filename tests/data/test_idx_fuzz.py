"""Fuzzing the IDX parser: any bytes give an array or a GankitError, nothing else."""

from __future__ import annotations

import gzip
import math
import struct

import numpy as np
from fuzz_helpers import loads_or_refuses, mutated
from hypothesis import example, given
from hypothesis import strategies as st

from gankit.data.idx import IDX_TYPES, parse_idx, read_idx, to_idx

CODES = sorted(IDX_TYPES)
# sizes that overflow a 64-bit product, or match the body after wrapping, reach the deep checks
EDGE_DIMS = [0, 1, 2, 3, 28, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1]


@st.composite
def idx_headers(draw) -> bytes:
    """A plausible header (mostly valid magic) with arbitrary dimension counts and sizes."""
    code = draw(st.one_of(st.sampled_from(CODES), st.integers(0, 255)))
    zero = draw(st.sampled_from([b"\x00\x00"] * 4 + [b"\x00\x01", b"\x1f\x8b"]))
    ndim = draw(st.one_of(st.integers(0, 5), st.integers(0, 255)))
    dims = draw(st.lists(st.one_of(st.integers(0, 6), st.sampled_from(EDGE_DIMS)),
                         min_size=min(ndim, 8), max_size=min(ndim, 8)))
    dims += [1] * (ndim - len(dims))
    head = zero + bytes([code, ndim]) + struct.pack(f">{ndim}I", *dims)
    if draw(st.booleans()):  # a body of exactly the declared size where that is small
        n = math.prod(dims) * IDX_TYPES.get(code, np.dtype("u1")).itemsize
        if n <= 4096:
            return head + draw(st.binary(min_size=n, max_size=n))
    return head + draw(st.binary(max_size=64))


@st.composite
def valid_idx(draw) -> bytes:
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=4)))
    dtype = IDX_TYPES[draw(st.sampled_from(CODES))].newbyteorder("=")
    raw = draw(st.binary(min_size=math.prod(shape) * dtype.itemsize, max_size=math.prod(shape) * dtype.itemsize))
    return to_idx(np.frombuffer(raw, dtype=dtype).reshape(shape))


def check_parse(data: bytes) -> None:
    arr = loads_or_refuses(parse_idx, data, "fuzz.idx")
    if arr is not None:
        assert isinstance(arr, np.ndarray) and arr.flags.writeable
        assert 4 + 4 * arr.ndim + arr.nbytes == len(data)


@given(st.binary(max_size=256))
def test_fuzz_random_bytes(data):
    check_parse(data)


@given(idx_headers())
@example(b"\x00\x00\x08\x41" + b"\x00\x00\x00\x01" * 0x41)  # 65 dims: more than numpy holds
@example(b"\x00\x00\x08\x04" + struct.pack(">4I", 0, 3, 2**31 - 1, 2**31 - 1))  # empty, unrepresentable
@example(b"\x00\x00\x08\x04" + struct.pack(">4I", *[2**16] * 4))  # 2**64 values: an int64 product wraps to 0
def test_fuzz_headers_with_arbitrary_dimensions(data):
    check_parse(data)


@given(valid_idx().flatmap(lambda v: mutated(v, header=24)))
def test_fuzz_mutated_valid_files(data):
    check_parse(data)


@given(valid_idx().flatmap(lambda v: mutated(gzip.compress(v, mtime=0), header=16)))
def test_fuzz_mutated_gzip_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("idx") / "train-images-idx3-ubyte.gz"
    path.write_bytes(data)
    out = loads_or_refuses(read_idx, path)
    if out is not None:
        arr, md5 = out
        assert isinstance(arr, np.ndarray) and isinstance(md5, str) and len(md5) == 32
