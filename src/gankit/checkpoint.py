"""Checkpoints as one safetensors file: every tensor of the training state, the rest as JSON.

A training state is a nested dict (model and optimiser state dicts, step, RNG state, the
config).  Tensors are stored under their dotted path; everything else (ints, floats,
optimiser param groups, the config) goes into the safetensors metadata as JSON with
placeholders where tensors were.  Nothing is pickled, so loading a checkpoint cannot run
code.  Writes go through gankit.atomic (temporary file, fsync, rename), so a crash or a full
disk never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .atomic import atomic_path
from .errors import GankitError

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
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"gankit": json.dumps(skeleton)})


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
    if "gankit" not in meta:
        raise GankitError(f"{path}: safetensors file without gankit metadata; not a gankit checkpoint")
    return _unflatten(json.loads(meta["gankit"]), tensors)
