"""Shared pieces of the fuzz tests (`pytest -k fuzz`): the property and byte mutations.

The property every parser must keep: any input either loads (the documented return type) or
raises `GankitError` with a message (the CLI prints it on one line); anything else (IndexError, struct.error,
zlib.error, UnicodeDecodeError, PIL errors, KeyError, RecursionError, MemoryError ...) is a
bug and fails the test with the input Hypothesis shrank it to.
"""

from __future__ import annotations

import warnings

from hypothesis import strategies as st

from gankit.errors import GankitError


def loads_or_refuses(fn, *args, **kwargs):
    """fn(*args) or None when it raised GankitError; any other exception propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped-file and md5 warnings are allowed outcomes
        try:
            return fn(*args, **kwargs)
        except GankitError as e:
            assert str(e).strip(), "a GankitError must say what went wrong"  # the CLI makes it one line
            return None


@st.composite
def mutated(draw, valid: bytes, header: int = 64) -> bytes:
    """A valid file damaged the ways real files are: truncated, bit-flipped, bytes overwritten
    (mostly in the header, where the declared sizes live), garbage appended."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "flip_header", "overwrite_header", "append"]))
        if not data:
            break
        if kind == "truncate":
            del data[draw(st.integers(0, len(data) - 1)):]
        elif kind == "flip" or kind == "flip_header":
            hi = len(data) - 1 if kind == "flip" else min(len(data), header) - 1
            i = draw(st.integers(0, hi))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite_header":
            i = draw(st.integers(0, min(len(data), header) - 1))
            chunk = draw(st.one_of(st.binary(min_size=1, max_size=8),
                                   st.sampled_from([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
                                                    b"\x80\x00\x00\x00", b"\xff" * 8])))
            data[i:i + len(chunk)] = chunk
        else:
            data += draw(st.binary(min_size=1, max_size=32))
    return bytes(data)
