"""`gankit generate`: images from a run's checkpoint or an exported generator (runs/load.py),
as a grid, PNG files or an .npz array.  Labels of a conditional G follow the training
label prior unless --class asks for one class.  `--dataset OUT` writes a labelled synthetic
dataset (synthetic.py) and `--gif FILE --interpolate K` a latent walk (walk.py)."""

from __future__ import annotations

import numpy as np
import torch

from gankit.data.imagedata import class_index
from gankit.errors import GankitError
from gankit.models.sampling import sample_u8, trained_classes
from gankit.runs.load import load_generator
from gankit.runtime.device import free_memory
from gankit.util.atomic import atomic_path
from gankit.util.imageio import save_grid, save_pngs, to_uint8


def check_fits(gen, n: int) -> None:
    """n images (and their noise) must fit in the memory that is free, or the command refuses now."""
    c, h, w = gen.img_shape
    need = n * (c * h * w + 4 * gen.G.z_dim + 8)  # uint8 images, float32 z, int64 labels
    free = free_memory()
    if free is not None and need > free // 2:
        raise GankitError(f"--n {n}: {n:,} images of {c}x{h}x{w} need {need / 1e9:.1f} GB, more than half of the "
                          f"{free / 1e9:.1f} GB of memory free; use a smaller --n (several runs with other --seed "
                          "values make more)")


def resolve_class(cls: str, class_names: list[str], prior: torch.Tensor) -> int:
    """A class name or index that the run was trained on, as its label index."""
    idx = class_index(cls, class_names) if class_names else (0 if cls.strip() == "0" else None)
    if idx is None:
        raise GankitError(f"--class {cls!r}: not a class of this run; choose one of "
                          f"{', '.join(class_names) or '(none)'}")
    if prior[idx] <= 0:
        trained = ", ".join(class_names[int(i)] for i in trained_classes(prior))
        raise GankitError(f"--class {cls!r}: the run never saw this class (data.classes); choose one of {trained}")
    return idx


def generate(run_dir: str, n: int | None = 64, seed: int = 0, cls: str | None = None, checkpoint: str | None = None,
             grid: str | None = None, out_dir: str | None = None, npz: str | None = None,
             dataset: str | None = None, per_class: int | None = None, fmt: str | None = None,
             interpolate: int | None = None, gif: str | None = None, truncation: float | None = None,
             latent: str | None = None) -> str:
    """Write n samples to exactly one of grid / out_dir / npz, or a labelled synthetic dataset
    (dataset: synthetic.py), or a latent walk (gif: walk.py); returns what was written.
    `truncation` (psi) applies to all of them (a style-based G only).  `latent`: render the one
    image of a latent written by `gankit project` instead of sampling (latent.py)."""
    check_extras(dataset, per_class, fmt, interpolate, gif, cls)
    if latent is not None and (dataset is not None or gif is not None or cls is not None):
        raise GankitError("--latent renders the one image of a projected latent (its class inside it): "
                          "give it with --grid, --out or --npz, without --dataset, --gif or --class")
    if dataset is None and gif is None:  # a dataset's size is its own (--n or --per-class); a walk has frames
        n = 64 if n is None else n
        if n < 1:
            raise GankitError(f"--n {n}: must be at least 1")
    gen = load_generator(run_dir, checkpoint)
    cfg = gen.cfg
    if truncation is not None:
        set_truncation(gen, truncation, run_dir)
    if dataset is not None:
        from gankit.commands.synthetic import write_dataset

        m = write_dataset(gen, run_dir, dataset, n=n, per_class=per_class, fmt=fmt or "png", seed=seed,
                          checkpoint=checkpoint)
        counts = ", ".join(f"{k} {v}" for k, v in m["per_class"].items())
        return f"wrote a synthetic dataset of {m['n']} images ({counts}) to {dataset}"
    if gif is not None:
        return walk(gen, run_dir, 8 if interpolate is None else interpolate, seed, gif, cls)
    classes = None
    if cls is not None:
        if not cfg.model.conditional:
            raise GankitError(f"--class: run {run_dir} is not conditional (model.conditional=false)")
        classes = torch.full((n,), resolve_class(cls, gen.class_names, gen.prior), dtype=torch.long)
    if latent is not None:
        imgs, y, n = _rendered(gen, latent), None, 1
    else:
        check_fits(gen, n)
        imgs, y = sample_u8(gen.G, n, seed, cfg.data.range, gen.prior, classes)  # [N, C, H, W]
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


@torch.no_grad()
def _rendered(gen, path: str) -> torch.Tensor:
    """The uint8 image [1, C, H, W] of a latent file, exactly as `gankit project` wrote it."""
    from gankit.commands.latent import read_latent, render

    x = render(gen.G, read_latent(path, gen))
    return to_uint8(x, gen.cfg.data.range)


def set_truncation(gen, psi: float, run_dir: str) -> None:
    """Sample `gen` with w truncated toward its average (stylegan-lite's G.truncation_psi):
    sample(), the synthetic dataset (whose manifest records psi) and the walk all call G(z, y),
    so the attribute reaches every path.  gen.G is this call's own copy, so nothing is restored."""
    if not hasattr(gen.G, "truncation_psi"):
        raise GankitError(f"--truncation needs a style-based model (model.name=stylegan-lite); "
                          f"{run_dir} uses model.name={gen.cfg.model.name}")
    if not np.isfinite(psi):
        raise GankitError(f"--truncation {psi}: give a finite psi (1 = none, 0 = the average image, 0.7 is typical)")
    gen.G.truncation_psi = float(psi)


def check_extras(dataset, per_class, fmt, interpolate, gif, cls) -> None:
    """Options that belong to --dataset or to --gif, given without it (one line each)."""
    if dataset is None and (per_class is not None or fmt is not None):
        raise GankitError(f"{'--per-class' if per_class is not None else '--format'} belongs to --dataset OUT "
                          "(a labelled synthetic dataset)")
    if dataset is not None and cls is not None:
        raise GankitError("--class with --dataset: a synthetic dataset is balanced over all trained classes; "
                          "use --out DIR --class C for the images of one class")
    if interpolate is not None and gif is None:
        raise GankitError("--interpolate K writes a latent walk: give --gif FILE.gif")


def walk(gen, run_dir: str, k: int, seed: int, gif: str, cls: str | None) -> str:
    """The latent walk of `gen` (walk.py); from a run directory also RUN/samples/walk.png and the report."""
    from gankit.commands.walk import latent_walk
    from gankit.runs.layout import open_run_dir
    from gankit.runs.load import is_export

    label = None
    if cls is not None:
        if not gen.cfg.model.conditional:
            raise GankitError(f"--class: run {run_dir} is not conditional (model.conditional=false)")
        label = resolve_class(cls, gen.class_names, gen.prior)
    run = None if is_export(run_dir) else open_run_dir(run_dir)
    written = latent_walk(gen, k, seed, gif, label, run.walk_strip if run else None)
    if run is not None:
        from gankit.report.html import write_report

        write_report(run, refresh_plots=False)  # the strip appears under "Latent walk"
    return "wrote a latent walk to " + ", ".join(str(p) for p in written)
