"""A latent that `gankit project` found and `gankit generate --latent` renders back: z, or W+ for
a style-based G, with its class and model; one render path for both, so the round trip is exact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.util.atomic import atomic_path


@dataclass
class Latent:
    """What `generate --latent` renders: z [1, z_dim] or W+ [1, num_ws, w_dim], and the label."""

    kind: str  # "z" or "w+"
    value: Tensor
    label: int  # -1 for an unconditional G
    model: str

    def save(self, path: Path) -> Path:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, kind=self.kind, latent=self.value.detach().cpu().numpy(), label=self.label, model=self.model)
        return path


def image_of(G, kind: str, value: Tensor, y: Tensor | None) -> Tensor:
    return G.synthesis(value) if kind == "w+" else G(value, y)


def render(G, latent: Latent) -> Tensor:
    """G's image (data range, float) for a latent: the one path projection and generate share."""
    return image_of(G, latent.kind, latent.value, torch.tensor([latent.label]) if latent.label >= 0 else None)


def read_latent(path: str, gen) -> Latent:
    """A latent written by `gankit project`, checked against the run's G (kind, shape, model, class)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            kind, value, label, model = str(f["kind"]), torch.from_numpy(f["latent"]), int(f["label"]), str(f["model"])
    except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError) as e:  # an .npy has no keys
        raise GankitError(f"--latent {path}: not a latent written by `gankit project` ({type(e).__name__}: {e})") from None
    G, name = gen.G, gen.cfg.model.name
    want = "w+" if name == "stylegan-lite" else "z"
    shape = (1, G.num_ws, G.w_dim) if want == "w+" else (1, G.z_dim)
    if model != name or kind != want or tuple(value.shape) != shape:
        raise GankitError(f"--latent {path}: a {model} {kind} latent of shape {list(value.shape)}; this run's G "
                          f"({name}) takes a {want} latent of shape {list(shape)}: project with this run")
    if (label >= 0) != bool(G.conditional) or label >= max(1, len(gen.class_names)):
        raise GankitError(f"--latent {path}: class index {label} does not fit this run's "
                          f"{'conditional' if G.conditional else 'unconditional'} G")
    return Latent(kind, value.float(), label, model)
