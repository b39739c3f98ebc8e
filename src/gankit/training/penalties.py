"""Penalties: gradient penalties on the discriminator, a diversity term for the generator.

gradient_penalty  WGAN-GP (Gulrajani et al. 2017): (||grad_x D(x_hat)||_2 - 1)^2 on random
                  interpolates x_hat between real and fake, keeping D ~1-Lipschitz.
r1_penalty        R1 (Mescheder et al. 2018): ||grad_x D(x)||^2 on real data, pushing D
                  flat around the data; the caller scales it by gamma / 2.

mode_seeking      MSGAN (Mao et al. 2019): 1 / (image distance / z distance) over pairs of
                  fakes with the same label, large when different z give the same image;
                  with tau > 0 DSGAN's bounded per-pair form (loss.ms_tau).

The two on D build the graph of the gradient (create_graph=True) so that the penalty
itself can be back-propagated into D's weights.  The caller multiplies by the weight.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _per_sample_sq_norm(grad: Tensor) -> Tensor:
    return grad.reshape(grad.shape[0], -1).pow(2).sum(dim=1)


def gradient_penalty(
    D: nn.Module,
    real: Tensor,
    fake: Tensor,
    y: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean over the batch of (||grad D(x_hat)||_2 - 1)^2, x_hat = a*real + (1-a)*fake, a~U(0,1).

    D is called as D(x_hat) or D(x_hat, y).  `generator` (on real's device) makes the
    interpolation coefficients reproducible.
    """
    n = real.shape[0]
    shape = (n,) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    out = D(x_hat) if y is None else D(x_hat, y)
    # summing is fine: sample i's output depends only on x_hat[i] (no batch norm in a critic)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    # eps inside the sqrt: the norm's gradient is undefined at exactly zero
    norm = torch.sqrt(_per_sample_sq_norm(grad) + 1e-12)
    return (norm - 1.0).pow(2).mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """Mean over the batch of ||grad_x D(x)||^2 at the real samples (unscaled).

    `real` must have had requires_grad=True before D was applied to it.
    """
    if not real.requires_grad:
        raise ValueError("r1_penalty: call real.requires_grad_(True) before computing D(real)")
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return _per_sample_sq_norm(grad).mean()


def mode_seeking(fake: Tensor, z: Tensor, y: Tensor | None = None, tau: float = 0.0, eps: float = 1e-5) -> Tensor:
    """The mode-seeking term G minimises, over every pair i < j of the batch with the same
    label (every pair when unconditional):

    - tau = 0 (MSGAN): 1 / (mean |G(z_i) - G(z_j)| / mean |z_i - z_j| + eps), the means over
      pairs and elements.  Unbounded: a large weight buys distance with extreme pixels.
    - tau > 0 (DSGAN's bound): the mean over pairs of max(0, 1 - r_ij / tau), where r_ij is
      the pair's own mean |G(z_i) - G(z_j)| / mean |z_i - z_j|.  Only pairs nearer than tau
      are pushed apart, and no further than tau; 1 when G ignores z, 0 once every pair is
      at least tau apart (same-class pairs of real Fashion-MNIST: about 0.33).

    A conditional G that ignores z makes one garment per class: its images then differ
    far less than its z, and either form grows.  It needs no extra forward pass: the pairs
    come from the batch the G step made anyway.
    """
    i, j = torch.triu_indices(fake.shape[0], fake.shape[0], 1, device=fake.device)
    if y is not None:
        same = y[i] == y[j]
        i, j = i[same], j[same]
    if i.numel() == 0:  # no two fakes of one class in this batch
        return fake.new_zeros(())
    # each pair's mean |difference| from one pairwise L1 matrix: gathering fake[i] - fake[j]
    # instead sums gradients of repeated rows in a thread-dependent order on the CPU, and a
    # resumed run would then drift from an uninterrupted one
    x, w = fake.flatten(1), z.flatten(1)
    dx = torch.cdist(x, x, p=1)[i, j] / x.shape[1]
    dz = torch.cdist(w, w, p=1)[i, j] / w.shape[1]
    if tau > 0:
        return torch.relu(1.0 - dx / dz / tau).mean()
    return 1.0 / (dx.mean() / dz.mean() + eps)
