"""Checkpoints as one safetensors file: every tensor of the training state, the rest as JSON.

A training state is a nested dict (model and optimiser state dicts, step, RNG state, the
config).  Tensors are stored under their dotted path; everything else (ints, floats,
optimiser param groups, the config) goes into the safetensors metadata as JSON with
placeholders where tensors were.  Nothing is pickled, so loading a checkpoint cannot run
code.  Writes go through gankit.util.atomic (temporary file, fsync, rename), so a crash or a full
disk never leaves a half-written checkpoint.

A training checkpoint records `format` (FORMAT: the layout of the state) and the
`gankit_version` that wrote it; a checkpoint of a newer format is refused with one line, one
without the field (written before it existed) is format 0 and loads.  Weights are loaded
through `load_weights`, which names the layers whose shapes differ instead of raising
PyTorch's multi-line RuntimeError.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from gankit import __version__
from gankit.errors import GankitError
from gankit.util.atomic import atomic_path

FORMAT = 1  # the checkpoint layout this gankit writes; it reads this one and every older one

_TENSOR = "__tensor__"
_INTKEYS = "__intkeys__"  # optimiser state dicts are keyed by parameter index (int)


def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = prefix or "_"
        # safetensors refuses tensors that share memory (e.g. tied or aliased buffers)
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {_TENSOR: key}
    if isinstance(obj, dict):
        int_keys = bool(obj) and all(isinstance(k, int) for k in obj)
        out = {str(k): _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors) for k, v in obj.items()}
        return {_INTKEYS: out} if int_keys else out
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a checkpoint")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR}:
            return tensors[obj[_TENSOR]]
        if set(obj) == {_INTKEYS}:
            return {int(k): _unflatten(v, tensors) for k, v in obj[_INTKEYS].items()}
        return {k: _unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state(state: dict[str, Any], path: str | Path) -> None:
    """Atomically write a nested state dict to `path` (safetensors)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, "", tensors)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"gankit": json.dumps(skeleton)})
    except (OSError, SafetensorError) as e:  # a full disk, a quota, a read-only mount: the temp file is gone
        before = (f"the previous {path.name} is intact" if path.is_file()
                  else f"no earlier {path.name} existed")
        raise GankitError(f"could not save the checkpoint {path} ({io_reason(e)}); {before}; "
                          "free disk space and continue with gankit train --resume RUN") from None


def io_reason(e: Exception) -> str:
    """What the system said, in its words: safetensors reports a failed write as its own error
    ("Error while serializing: I/O error: No space left on device (os error 28)")."""
    if isinstance(e, OSError):
        return e.strerror or str(e)
    text = str(e)
    m = re.search(r"os error (\d+)|code: (\d+)", text)
    if m:
        return os.strerror(int(m.group(1) or m.group(2)))
    return text.splitlines()[0][:120] if text else type(e).__name__


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"no checkpoint at {path}")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise GankitError(f"{path}: not a readable checkpoint ({e}); use another one or retrain") from None
    return _state(meta, tensors, path)


def peek_state(path: str | Path) -> dict[str, Any]:
    """The checkpoint's nested state with every tensor replaced by its shape (a tuple), read from
    the file's header alone: what a check needs before anything is loaded or written."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise GankitError(f"{path}: not a readable checkpoint ({e}); use another one or retrain") from None
    return _state(meta, shapes, path)


def _state(meta: dict[str, str], tensors: dict[str, Any], path: Path) -> dict[str, Any]:
    """The nested state from the metadata's skeleton; a damaged or forged skeleton (bad JSON, a
    placeholder naming no tensor, nesting deeper than Python recurses) is one GankitError."""
    if "gankit" not in meta:
        raise GankitError(f"{path}: a safetensors file without gankit metadata, not a gankit checkpoint; "
                          "give a checkpoint gankit wrote (RUN/checkpoints/last.safetensors)")
    try:
        state = _unflatten(json.loads(meta["gankit"]), tensors)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise GankitError(f"{path}: damaged gankit metadata ({type(e).__name__}: {e}); not a usable "
                          "checkpoint, use another one or retrain") from None
    if not isinstance(state, dict):
        raise GankitError(f"{path}: gankit metadata holds a {type(state).__name__}, not a training state; "
                          "not a gankit checkpoint")
    check_format(state, path)
    return state


def check_format(state: Any, path: str | Path) -> None:
    """Refuse a checkpoint whose format is newer than this gankit understands."""
    fmt = state.get("format", 0) if isinstance(state, dict) else 0  # before the field: format 0
    if isinstance(fmt, bool) or not isinstance(fmt, int):
        raise GankitError(f"{path}: checkpoint format {fmt!r} is not a format number; not a gankit checkpoint")
    if fmt > FORMAT:
        by = state.get("gankit_version")
        raise GankitError(f"{path}: checkpoint format {fmt} (written by gankit {by or 'of a later version'}) is "
                          f"newer than this gankit {__version__} reads (format {FORMAT} and older); upgrade "
                          "gankit (pip install -U gankit) to load it")


def weight_mismatches(module: torch.nn.Module, shapes: dict[str, Any]) -> list[str]:
    """The layers of `module` a checkpoint's state dict (tensors or shapes) does not fit."""
    def shape(v: Any) -> tuple | None:  # a forged checkpoint may hold anything where a tensor belongs
        if isinstance(v, torch.Tensor):
            return tuple(v.shape)
        return tuple(v) if isinstance(v, (tuple, list)) and all(type(d) is int for d in v) else None

    have = {k: shape(v) for k, v in shapes.items()} if isinstance(shapes, dict) else {}
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    out = [f"{k} is {list(have[k]) if have[k] is not None else 'not a tensor'} in the checkpoint but {list(s)} "
           "in the model" for k, s in own.items() if k in have and have[k] != s]
    out += [f"{k} is missing from the checkpoint" for k in own if k not in have]
    out += [f"{k} is not in the model" for k in have if k not in own]
    return out


def mismatch_message(where: Any, what: str, problems: list[str], fix: str = "") -> str:
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    fix = fix or ("it was saved for another architecture or by another gankit version: use the config and the "
                  "gankit it was trained with, or start a new run")
    return f"{where}: the checkpoint's {what} does not fit the model ({shown}); {fix}"


def load_weights(module: torch.nn.Module, state_dict: dict[str, Any], what: str, where: Any = "checkpoint",
                 fix: str = "") -> None:
    """module.load_state_dict(state_dict), or one GankitError naming the layers that do not fit."""
    problems = weight_mismatches(module, state_dict)
    if problems:
        raise GankitError(mismatch_message(where, what, problems, fix))
    module.load_state_dict(state_dict)
