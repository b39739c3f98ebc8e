"""`gankit generate`: images from a run's checkpoint, as a grid, PNG files or an .npz array."""

from __future__ import annotations

import numpy as np
import torch

from .errors import GankitError
from .imageio import save_grid, save_pngs, to_uint8
from .rundir import load_run, sample


def resolve_class(cls: str, class_names: list[str]) -> int:
    if cls in class_names:
        return class_names.index(cls)
    if cls.isdigit() and int(cls) < max(len(class_names), 1):
        return int(cls)
    raise GankitError(f"--class {cls!r}: not a class of this run; choose one of {', '.join(class_names) or '(none)'}")


def generate(run_dir: str, n: int = 64, seed: int = 0, cls: str | None = None, checkpoint: str | None = None,
             grid: str | None = None, out_dir: str | None = None, npz: str | None = None) -> str:
    """Write n samples to exactly one of grid / out_dir / npz; returns what was written."""
    if n < 1:
        raise GankitError(f"--n {n}: must be at least 1")
    loaded = load_run(run_dir, checkpoint)
    G, cfg = loaded.G, loaded.cfg
    classes = None
    if cls is not None:
        if not cfg.model.conditional:
            raise GankitError(f"--class: run {run_dir} is not conditional (model.conditional=false)")
        classes = torch.full((n,), resolve_class(cls, loaded.class_names), dtype=torch.long)
    x, y = sample(G, n, seed, classes=classes)
    imgs = to_uint8(x, cfg.data.range)  # [N, C, H, W]
    if grid:
        save_grid(imgs, grid)
        return f"wrote a grid of {n} samples to {grid}"
    if out_dir:
        save_pngs(imgs, out_dir)
        return f"wrote {n} PNG files to {out_dir}"
    if npz:
        arrays = {"images": imgs.permute(0, 2, 3, 1).numpy()}
        if y is not None:
            arrays["labels"] = y.numpy()
        np.savez_compressed(npz, **arrays)
        return f"wrote {n} samples to {npz}"
    raise GankitError("generate: give one of --grid PNG, --out DIR or --npz FILE")
