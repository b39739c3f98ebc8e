"""IDX parsing: header layout, round trips over every type code, and rejected inputs."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from gankit.data.idx import parse_idx, read_idx, to_idx, write_idx
from gankit.errors import GankitError


def test_header_bytes_by_hand():
    data = to_idx(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    # 00 00, type 08 (ubyte), 2 dims, then 2 and 3 as big-endian uint32, then the values
    assert data == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])


def test_big_endian_values():
    data = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    arr = parse_idx(data)
    assert arr.tolist() == [0x0102, -2]  # int16 big-endian: 258 and two's-complement -2
    assert arr.dtype == np.dtype("int16") and arr.dtype.isnative


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_round_trip_every_type(dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    b = parse_idx(to_idx(a))
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # the result is writeable, not a view of immutable bytes


@pytest.mark.parametrize("gz", [False, True])
def test_read_file_gz_or_raw_and_md5(tmp_path, gz):
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    p = write_idx(a, tmp_path / ("x.gz" if gz else "x"), gz=gz)
    arr, md5 = read_idx(p)
    np.testing.assert_array_equal(arr, a)
    assert md5 == hashlib.md5(to_idx(a)).hexdigest()  # md5 of the decompressed bytes either way


def test_gz_judged_by_content_not_name(tmp_path):
    p = tmp_path / "labels-no-suffix"
    p.write_bytes(gzip.compress(to_idx(np.array([3, 1], dtype=np.uint8))))
    assert read_idx(p)[0].tolist() == [3, 1]


@pytest.mark.parametrize(
    "data, message",
    [
        (bytes([1, 0, 8, 1, 0, 0, 0, 1, 7]), "magic number 01000801"),
        (bytes([0, 0, 7, 1, 0, 0, 0, 1, 7]), "magic number 00000701"),
        (bytes([0, 0, 8]), "too short"),
        (bytes([0, 0, 8, 0]), "0 dimensions"),
        (bytes([0, 0, 8, 2, 0, 0, 0, 1]), "truncated IDX header"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]), "holds 10 bytes"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 1, 2]), "holds 10 bytes"),
    ],
)
def test_bad_files_name_the_file(tmp_path, data, message):
    p = tmp_path / "bad-idx1-ubyte"
    p.write_bytes(data)
    with pytest.raises(GankitError, match=message) as e:
        read_idx(p)
    assert str(p) in str(e.value)


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(to_idx(np.zeros(100, np.uint8)))[:-12])
    with pytest.raises(GankitError, match="corrupt gzip") as e:
        read_idx(p)
    assert str(p) in str(e.value)
