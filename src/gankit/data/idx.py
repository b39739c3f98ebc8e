"""The IDX file format of MNIST and Fashion-MNIST: parse, read (gz or raw) and write.

An IDX file is: two zero bytes, a type code, the number of dimensions, one big-endian
uint32 per dimension, then the values in big-endian C order.  Every check names the file,
because a truncated download or a renamed file is the usual cause of a failure here.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from gankit.errors import GankitError
from gankit.util.atomic import atomic_write

# type code -> big-endian numpy dtype
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
MAX_DIMS = 32  # numpy's limit (numpy 1.x; 2.x allows 64); real IDX files have 1-4


def parse_idx(data: bytes, where: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes into a native-endian, writeable numpy array."""
    if len(data) < 4:
        raise GankitError(f"{where}: not an IDX file ({len(data)} bytes, too short for a header)")
    zero, code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in IDX_TYPES:
        raise GankitError(f"{where}: not an IDX file (magic number {data[:4].hex()}; expected "
                          "0000 then a type code 08-0e and the number of dimensions); the file is corrupt or "
                          "not IDX, get a fresh copy")
    if ndim == 0 or ndim > MAX_DIMS:
        raise GankitError(f"{where}: IDX header declares {ndim} dimensions (1-{MAX_DIMS} supported); "
                          "the file is corrupt or not IDX, get a fresh copy")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise GankitError(f"{where}: truncated IDX header ({len(data)} bytes, need {head})")
    dims = struct.unpack(f">{ndim}I", data[4:head])
    dtype = IDX_TYPES[code]
    expected = head + math.prod(dims) * dtype.itemsize  # exact: a numpy product could overflow
    if len(data) != expected:
        raise GankitError(f"{where}: IDX header says shape {tuple(dims)} ({expected} bytes) but the "
                          f"file holds {len(data)} bytes; it is truncated or corrupt, get a fresh copy")
    try:
        arr = np.frombuffer(data, dtype=dtype, offset=head).reshape(dims)
    except ValueError as e:  # e.g. shape (0, 2**31, 2**31): empty, but too big a shape for numpy
        raise GankitError(f"{where}: IDX header declares shape {tuple(dims)}, which numpy cannot "
                          f"represent ({e}); the file is corrupt, get a fresh copy") from None
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped if it is gzip (judged by its magic, not its name)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise GankitError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise GankitError(f"{path}: corrupt gzip data ({e}); delete it and get a fresh copy") from None


def read_idx(path: Path) -> tuple[np.ndarray, str]:
    """Parse an IDX file (gz or raw); also return the md5 of its decompressed bytes."""
    data = read_bytes(path)
    try:
        arr = parse_idx(data, str(path))
    except GankitError:
        with open(path, "rb") as f:
            gz = f.read(2) == GZIP_MAGIC
        if str(path).endswith(".gz") and not gz:  # raw IDX named .gz is fine; this is neither
            raise GankitError(f"{path}: named .gz but neither gzip data nor an IDX file (starts with "
                              f"{data[:4].hex() or 'nothing'}); delete it and get a fresh copy") from None
        raise
    return arr, hashlib.md5(data).hexdigest()


def to_idx(array: np.ndarray) -> bytes:
    """Encode an array as IDX bytes (the inverse of parse_idx)."""
    codes = {dt.str[1:]: c for c, dt in IDX_TYPES.items()}
    arr = np.asarray(array)
    key = arr.dtype.str[1:]  # "u1", "i4", ... whatever the byte order
    if key not in codes or arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"cannot store dtype {arr.dtype} with {arr.ndim} dims as IDX")
    header = bytes([0, 0, codes[key], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(IDX_TYPES[codes[key]], copy=False).tobytes(order="C")


def write_idx(array: np.ndarray, path: Path, gz: bool = False) -> Path:
    data = to_idx(array)
    return atomic_write(path, gzip.compress(data, mtime=0) if gz else data)
