"""Discriminator targets: the label tricks (what D is told is real and fake).

Tricks from Salimans et al. 2016 ("Improved Techniques for Training GANs": one-sided
label smoothing) and the folk "ganhacks" list (noisy and flipped labels, swapped
real/fake convention).  Instance noise changes what D sees rather than what it is told:
it is in objectives.py (DView).

The order inside `d_targets`, per sample:
  1. smoothing:  real = real_label, fake = 0 (one-sided: fakes are never smoothed)
  2. jitter:     real -= U(0, label_noise), fake += U(0, label_noise), clipped to [0, 1]
  3. flipping:   with probability label_flip the sample's real and fake targets trade places
  4. swap:       mirror every target t -> 1 - t (real ~ 0, fake ~ 1)
"""

from __future__ import annotations

import torch
from torch import Tensor


def d_targets(
    n: int,
    real_label: float = 1.0,
    label_noise: float = 0.0,
    label_flip: float = 0.0,
    swap: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """(real_targets[n], fake_targets[n]) as float32 tensors on `device`.

    Random draws use `generator`, which lives on the CPU (the result is moved afterwards,
    so one CPU generator serves any training device).
    """
    real = torch.full((n,), float(real_label))
    fake = torch.zeros(n)
    if label_noise > 0:
        real = real - label_noise * torch.rand(n, generator=generator)
        fake = fake + label_noise * torch.rand(n, generator=generator)
    real, fake = real.clamp(0.0, 1.0), fake.clamp(0.0, 1.0)
    if label_flip > 0:
        flip = torch.rand(n, generator=generator) < label_flip
        real, fake = torch.where(flip, fake, real), torch.where(flip, real, fake)
    if swap:
        real, fake = 1.0 - real, 1.0 - fake
    return real.to(device), fake.to(device)
