"""Exponential moving average of the generator's weights, and batch-norm re-estimation.

An EMA of G (Yazıcı et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training";
also Karras et al. 2018) usually samples better than the raw G, whose weights oscillate.

Pitfall measured on this project: with batch norm, the running statistics of the raw G do
not match the averaged weights, and the EMA G sampled in eval mode gives washed-out
images.  `recompute_bn_stats` re-estimates them from forward passes of the EMA G itself, and
`Sampler` is the network the loop samples from: the EMA G with fresh statistics, or G.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from gankit.models.sampling import inputs


class EMA:
    """p_ema = decay * p_ema + (1 - decay) * p after `start_step`; a plain copy before it."""

    def __init__(self, G: nn.Module, decay: float, start_step: int = 0):
        self.decay = float(decay)
        self.start_step = int(start_step)
        self.model = copy.deepcopy(G).eval()
        self.model.requires_grad_(False)

    @torch.no_grad()
    def update(self, G: nn.Module, step: int) -> None:
        ema_params = dict(self.model.named_parameters())
        for name, p in G.named_parameters():
            if step < self.start_step:
                ema_params[name].copy_(p)
            else:
                ema_params[name].lerp_(p.detach(), 1.0 - self.decay)
        # buffers (BN running stats, spectral-norm vectors) are not averaged: G's are taken
        ema_bufs = dict(self.model.named_buffers())
        for name, b in G.named_buffers():
            ema_bufs[name].copy_(b)

    def state_dict(self) -> dict[str, Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.model.load_state_dict(state)


def _call(G: nn.Module, args: Any) -> Tensor:
    return G(*args) if isinstance(args, tuple) else G(args)


@torch.no_grad()
def recompute_bn_stats(
    G: nn.Module,
    z_sampler: Callable[[int], Any],
    n_batches: int = 20,
    batch_size: int = 64,
) -> None:
    """Reset every batch norm's running stats of G and re-estimate them from G's own outputs.

    Runs `n_batches` forward passes of `batch_size` samples with the batch norms in train
    mode and momentum=None (a cumulative average over the passes, so every batch weighs
    the same), then restores each module's mode and momentum.  Use the training batch
    size: per-batch statistics are what G saw in training.  `z_sampler(n)` returns G's
    input: a tensor z or a tuple (z, y).  No-op for a G without batch norm.
    """
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    modes = {m: m.training for m in G.modules()}
    momenta = {bn: bn.momentum for bn in bns}
    try:
        G.eval()
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        for _ in range(n_batches):
            _call(G, z_sampler(batch_size))
    finally:
        for m, training in modes.items():
            m.training = training  # not m.train(): that would recurse into children
        for bn, momentum in momenta.items():
            bn.momentum = momentum


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
