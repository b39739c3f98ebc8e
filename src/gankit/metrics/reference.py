"""Cached embeddings of real data and cached real-vs-real floors.

Embedding 60,000 training images takes a while on a CPU and never changes for a given
(dataset, split, evaluator), so features and logits are stored once as safetensors under
`<cache>/reference/` (cache = $GANKIT_CACHE, else platformdirs' user cache).  The key holds
the dataset name, split, evaluator sha256 and a hash of the image bytes, so a class filter,
a limit or a resize gets its own entry instead of a stale one.  Floors (metric dicts) are
stored next to them as JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from gankit.util.atomic import atomic_path, atomic_write


def reference_dir() -> Path:
    from gankit.data.cache import cache_root

    return cache_root() / "reference"


def content_hash(images: Tensor) -> str:
    """sha256 of the uint8 image bytes and shape (identifies a filtered/resized variant)."""
    h = hashlib.sha256(str(tuple(images.shape)).encode())
    flat = images.contiguous().numpy()
    for i in range(0, flat.shape[0], 4096):  # in slices: a memory-mapped dataset is never copied whole
        h.update(np.ascontiguousarray(flat[i : i + 4096]))
    return h.hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "-", name).strip("-") or "data"


def reference_key(name: str, split: str, extractor_sha: str, images: Tensor) -> str:
    return f"{_slug(name)}-{_slug(split)}-{extractor_sha[:12]}-{content_hash(images)[:12]}"


Embed = Callable[[Tensor], tuple[Tensor, Tensor]]


def cached_embedding(key: str, images: Tensor, embed: Embed) -> tuple[Tensor, Tensor]:
    """(features, logits) of `images`, computed with `embed` once and then read from the cache."""
    path = reference_dir() / f"{key}.safetensors"
    if path.is_file():
        try:
            t = load_file(str(path))
            if t["features"].shape[0] == images.shape[0]:
                return t["features"], t["logits"]
        except Exception:  # a truncated or foreign file: recompute and overwrite it
            pass
    feats, logits = embed(images)
    with atomic_path(path) as tmp:  # a concurrent reader never sees half a file
        save_file({"features": feats.contiguous(), "logits": logits.contiguous()}, str(tmp))
    return feats, logits


def cached_json(key: str, compute: Callable[[], dict]) -> dict:
    """A JSON dict computed once per key (the real-vs-real floors)."""
    path = reference_dir() / f"{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            pass
    value = compute()
    atomic_write(path, json.dumps(value, indent=1))
    return value


def subset_indices(n_total: int, n: int, seed: int) -> Tensor:
    """A fixed random subset of size min(n, n_total) (same every call for the same seed)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=gen)[: min(n, n_total)]
