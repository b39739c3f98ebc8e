"""Every random number generator the training loop draws from, saved and restored as one dict.

The loop draws noise z, DiffAugment parameters, instance noise, dropout masks and
gradient-penalty interpolation weights from torch's default generator of the device it
trains on: the CPU generator, or the CUDA / MPS one.  A resume that restored only the CPU
state would replay a GPU run's noise from step 0, so the device states are saved too.
(D's targets draw from a CPU generator of their own, held by the training state.)
"""

from __future__ import annotations

from typing import Any

import torch


def _cuda_in_use() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def _mps_in_use() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def get_rng_states() -> dict[str, Any]:
    """{'torch': CPU state, 'cuda': [state per GPU] or [], 'mps': state or None}."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if _cuda_in_use() else [],
        "mps": torch.mps.get_rng_state() if _mps_in_use() else None,
    }


def set_rng_states(states: dict[str, Any]) -> list[str]:
    """Restore what `get_rng_states` saved; returns the device states that could not be
    restored on this machine (e.g. a GPU run resumed on a CPU), for the caller to report."""
    torch.set_rng_state(states["torch"])
    lost = []
    cuda = states.get("cuda") or []
    if cuda:
        if torch.cuda.is_available() and torch.cuda.device_count() >= len(cuda):
            torch.cuda.set_rng_state_all(cuda)
        else:
            lost.append("cuda")
    if states.get("mps") is not None:
        if _mps_in_use():
            torch.mps.set_rng_state(states["mps"])
        else:
            lost.append("mps")
    return lost
