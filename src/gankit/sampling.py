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
- `Sampler`: the network to sample from during training: the EMA G with batch-norm
  statistics re-estimated for its own weights, or G itself.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .ema import EMA, recompute_bn_stats


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


class Sampler:
    """`sampler(step)` -> the network to sample from at this training step.

    Without EMA that is G.  With EMA it is the averaged G, whose batch-norm statistics are
    re-estimated from its own outputs: statistics copied from the raw G do not fit the
    averaged weights and give washed-out samples.  The re-estimation runs at most once per
    step (samples, evaluation and checkpoint at one step share it) and draws from its own
    seeded generator, so the training RNG stream, and with it bit-identical resume, does
    not depend on when samples were taken.
    """

    def __init__(self, G: nn.Module, ema: EMA | None, prior: Tensor, batch_size: int, seed: int,
                 device: torch.device | str):
        self.G, self.ema, self.prior = G, ema, prior
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.fresh_at = -1  # the step whose EMA weights the statistics were estimated for

    def __call__(self, step: int) -> nn.Module:
        if self.ema is None:
            return self.G
        if self.fresh_at != step:
            gen = torch.Generator().manual_seed(self.seed)

            def noise(k: int) -> tuple[Tensor, Tensor | None]:
                z, y = inputs(self.ema.model, k, gen, self.prior)
                return z.to(self.device), (y.to(self.device) if y is not None else None)

            recompute_bn_stats(self.ema.model, noise, n_batches=8, batch_size=self.batch_size)
            self.fresh_at = step
        return self.ema.model
