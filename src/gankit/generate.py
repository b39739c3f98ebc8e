"""`gankit generate`: images from a run's checkpoint or an exported generator (export.py),
as a grid, PNG files or an .npz array.  Labels of a conditional G follow the training
label prior unless --class asks for one class."""

from __future__ import annotations

import numpy as np
import torch

from .atomic import atomic_path
from .errors import GankitError
from .imageio import save_grid, save_pngs, to_uint8
from .export import load_generator
from .sampling import sample, trained_classes


def resolve_class(cls: str, class_names: list[str], prior: torch.Tensor) -> int:
    """A class name or index that the run was trained on, as its label index."""
    if cls in class_names:
        idx = class_names.index(cls)
    elif cls.isdigit() and int(cls) < max(len(class_names), 1):
        idx = int(cls)
    else:
        raise GankitError(f"--class {cls!r}: not a class of this run; choose one of "
                          f"{', '.join(class_names) or '(none)'}")
    if prior[idx] <= 0:
        trained = ", ".join(class_names[int(i)] for i in trained_classes(prior))
        raise GankitError(f"--class {cls!r}: the run never saw this class (data.classes); choose one of {trained}")
    return idx


def generate(run_dir: str, n: int = 64, seed: int = 0, cls: str | None = None, checkpoint: str | None = None,
             grid: str | None = None, out_dir: str | None = None, npz: str | None = None) -> str:
    """Write n samples to exactly one of grid / out_dir / npz; returns what was written."""
    if n < 1:
        raise GankitError(f"--n {n}: must be at least 1")
    gen = load_generator(run_dir, checkpoint)
    cfg = gen.cfg
    classes = None
    if cls is not None:
        if not cfg.model.conditional:
            raise GankitError(f"--class: run {run_dir} is not conditional (model.conditional=false)")
        classes = torch.full((n,), resolve_class(cls, gen.class_names, gen.prior), dtype=torch.long)
    x, y = sample(gen.G, n, seed, gen.prior, classes)
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
        target = npz if npz.endswith(".npz") else npz + ".npz"  # as np.savez_compressed names it
        with atomic_path(target) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        return f"wrote {n} samples to {target}"
    raise GankitError("generate: give one of --grid PNG, --out DIR or --npz FILE")
