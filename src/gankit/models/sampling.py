"""The one way to draw samples from a generator: train, generate, evaluate and the report use it.

- `label_prior(labels, num_classes)`: the class frequencies of the training data.  A
  conditional G is only ever asked for classes it was trained on, at their frequencies:
  with `data.classes=cat,dog` on CIFAR-10 the label embedding has 10 rows, but only rows 3
  and 5 ever saw data, and the reference set of an evaluation holds only cats and dogs.
  The prior is stored in every checkpoint, so sampling needs nothing but the checkpoint.
- `inputs(...)`: G's input (z, y) for n samples from one seeded generator.
- `sample(G, n, seed, prior)`: n images (float, data range) and their labels.
- `grid_inputs` / `class_grid_inputs`: the fixed-noise grid (labels cycling over the
  trained classes) and the per-class grid (one row per trained class).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.util.imageio import to_uint8


def uniform_prior(num_classes: int) -> Tensor:
    """Every class equally likely: for checkpoints written before the prior was stored."""
    return torch.full((num_classes,), 1.0 / num_classes, dtype=torch.float64)


def label_prior(labels: Tensor, num_classes: int) -> Tensor:
    """Class frequencies (float64, sums to 1) of the training labels."""
    counts = torch.bincount(labels.long().flatten(), minlength=num_classes)[:num_classes].double()
    return counts / counts.sum() if counts.sum() > 0 else uniform_prior(num_classes)


def trained_classes(prior: Tensor) -> Tensor:
    """Indices of the classes with training data, in label order."""
    return torch.nonzero(prior > 0).flatten()


def draw_labels(prior: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n labels drawn from the prior (with replacement)."""
    return torch.multinomial(prior.float(), n, replacement=True, generator=generator)


def inputs(G: nn.Module, n: int, generator: torch.Generator, prior: Tensor | None = None,
           classes: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """(z, y) for n samples; y is None for an unconditional G, `classes` when given,
    else drawn from `prior` (uniform over G's classes when no prior is known)."""
    z = torch.randn(n, G.z_dim, generator=generator)
    if not G.conditional:
        return z, None
    if classes is not None:
        return z, classes
    return z, draw_labels(prior if prior is not None else uniform_prior(G.num_classes), n, generator)


@torch.no_grad()
def sample(G: nn.Module, n: int, seed: int, prior: Tensor | None = None, classes: Tensor | None = None,
           device: str | torch.device = "cpu", batch: int = 500) -> tuple[Tensor, Tensor | None]:
    """n images from G (float, data range, on the CPU) with reproducible noise and labels."""
    z, y = inputs(G, n, torch.Generator().manual_seed(seed), prior, classes)
    out = []
    for i in range(0, n, batch):
        yb = y[i:i + batch].to(device) if y is not None else None
        out.append(G(z[i:i + batch].to(device), yb).cpu())
    return torch.cat(out), y


@torch.no_grad()
def sample_u8(G: nn.Module, n: int, seed: int, data_range: str, prior: Tensor | None = None,
              classes: Tensor | None = None, device: str | torch.device = "cpu",
              batch: int = 500) -> tuple[Tensor, Tensor | None]:
    """`sample` as uint8, each batch converted as it comes: the same images as
    to_uint8(sample(...)) in a quarter of the memory (what `generate --n` large needs)."""
    z, y = inputs(G, n, torch.Generator().manual_seed(seed), prior, classes)
    out = []
    for i in range(0, n, batch):
        yb = y[i:i + batch].to(device) if y is not None else None
        out.append(to_uint8(G(z[i:i + batch].to(device), yb).cpu(), data_range))
    return torch.cat(out), y


def grid_inputs(z_dim: int, n: int, seed: int, prior: Tensor, conditional: bool) -> tuple[Tensor, Tensor | None]:
    """The fixed-noise grid: the same z every epoch; labels cycle over the trained classes."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    if not conditional:
        return z, None
    present = trained_classes(prior)
    return z, present[torch.arange(n) % len(present)]


def class_grid_inputs(z_dim: int, per_class: int, seed: int, prior: Tensor) -> tuple[Tensor, Tensor]:
    """One row per trained class, the same `per_class` z vectors in every row."""
    present = trained_classes(prior)
    z = torch.randn(per_class, z_dim, generator=torch.Generator().manual_seed(seed))
    return z.repeat(len(present), 1), present.repeat_interleave(per_class)


def generated_u8(G: nn.Module, cfg: Config, prior: torch.Tensor, n: int, seed: int, device="cpu") -> torch.Tensor:
    """n samples as uint8, labels (conditional G) drawn from the training label prior."""
    x, _ = sample(G, n, seed, prior, device=device)
    return to_uint8(x, cfg.data.range)
