"""A restricted unpickler for the CIFAR-10 python batches, which admits data and nothing else.

Pickle can call any importable function while loading, so an arbitrary .tar.gz named
like CIFAR could run code.  This unpickler resolves only the three globals that a
pickled numpy array needs (`_reconstruct`, `ndarray`, `dtype`); everything else a CIFAR
batch holds (dicts, lists, ints, bytes, str) needs no global at all.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

from gankit.errors import GankitError

try:  # numpy >= 2 moved the module; pickles name either spelling
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct


class Refused(pickle.UnpicklingError):
    """The pickle asked for something other than plain data."""


def _plain_dtype(*args):
    # object arrays would hold arbitrary Python objects; CIFAR only has numbers
    dt = np.dtype(*args)
    if dt.hasobject:
        raise Refused("refusing object arrays")
    return dt


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
}


class DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise Refused(f"refusing to load global {module}.{name}") from None

    def persistent_load(self, pid):
        raise Refused("refusing persistent ids")


def loads_data(data: bytes, where: str):
    """Unpickle CIFAR-style data (py2 pickles, so str fields come back as bytes)."""
    try:
        return DataOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Refused as e:
        raise GankitError(f"{where}: not a plain data pickle ({e}); refusing to load it") from None
    except Exception as e:  # malformed pickles raise many types (EOFError, ValueError, ...)
        raise GankitError(f"{where}: unreadable pickle ({type(e).__name__}: {e})") from None
