"""The restricted unpickler: plain data and numpy arrays in, any other global refused."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import struct

import numpy as np
import pytest

from gankit.data.safepickle import loads_data
from gankit.errors import GankitError


class Reduces:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class Py2StylePickler(pickle._Pickler):
    """Writes bytes as Python 2 `str` (BINSTRING), like the official CIFAR-10 batches."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def test_python2_style_batch_loads():
    d = {b"data": np.arange(6, dtype=np.uint8).reshape(2, 3), b"labels": [1, 2], b"batch_label": b"x"}
    buf = io.BytesIO()
    Py2StylePickler(buf, protocol=2).dump(d)
    assert b"_codecs" not in buf.getvalue()  # no global beyond numpy's three
    out = loads_data(buf.getvalue(), "t")
    np.testing.assert_array_equal(out[b"data"], d[b"data"])
    assert out[b"labels"] == [1, 2] and out[b"batch_label"] == b"x"


def test_python3_protocols_load():
    d = {"data": np.arange(6, dtype=np.float32), "labels": [1, 2], b"b": b"y"}
    for protocol in (3, 4):
        out = loads_data(pickle.dumps(d, protocol), "t")
        np.testing.assert_array_equal(out["data"], d["data"])
        assert out["labels"] == [1, 2] and out[b"b"] == b"y"


@pytest.mark.parametrize(
    "payload",
    [
        Reduces(os.system, ("touch should-not-exist",)),
        Reduces(builtins.eval, ("1+1",)),
        Reduces(__import__, ("os",)),
    ],
)
def test_code_is_refused(tmp_path, monkeypatch, payload):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GankitError, match=r"where: not a plain data pickle \(refusing to load global"):
        loads_data(pickle.dumps({"x": payload}, protocol=4), "where")
    assert list(tmp_path.iterdir()) == []


def test_object_arrays_are_refused():
    with pytest.raises(GankitError, match="object arrays"):
        loads_data(pickle.dumps(np.array([1, "a"], dtype=object), protocol=4), "t")


def test_garbage_is_a_clear_error():
    with pytest.raises(GankitError, match="unreadable pickle"):
        loads_data(b"\x80\x04not a pickle", "t")
