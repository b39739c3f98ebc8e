"""`train.device`: the torch device a run trains on (`auto`: CUDA, then MPS, then the CPU)."""

from __future__ import annotations

import os

import torch

from gankit.errors import GankitError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise GankitError(f"train.device={name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GankitError("train.device=cuda but this machine has no CUDA GPU; use train.device=cpu")
    return dev


def free_memory() -> int | None:
    """Bytes of memory free now (None where the system does not say): what a large allocation
    is checked against before it is tried."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
