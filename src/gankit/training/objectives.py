"""The maths of one training step, outside the loop: what D sees, D's loss, G's loss.

`Objective` (after stylegan2-ada's loss object) is built once from the LOSSES entry, the
LossConfig and the D view, so the loop's D and G steps pass batches only.  It calls the pure
phase functions below, each a function of the networks, the batch and the config:

- `DView`: everything D sees, real or fake, in the D step and in the G step alike:
  DiffAugment (the same policy both steps, so G gets gradients through it), ADA's ops with
  its current probability (`train.ada`, ada.py) and instance
  noise with its annealed std (Sønderby et al. 2017).  A G step that fed D clean images
  would ask D about a distribution it was never trained on.
- `d_objective`: D's loss on a real and a fake batch given their targets (a pairing loss:
  on the pairs), plus the loss's own penalty from the registry entry (WGAN-GP's gradient
  penalty), R1 on the reals and R2 on the fakes (both lazy with `loss.r1_every`).
- `g_objective`: G's loss with D frozen, so no gradients for D's weights are computed
  (and then thrown away) in the G step; with top-k training (`loss.g_topk`, `topk_keep`)
  on the fakes D rates most real; a pairing loss (rpgan) also asks D about the step's reals.
- `g_objective_from`: G's loss on the fake logits D's own step just computed
  (`train.update=simultaneous`, the TF tutorial's two gradient tapes over one forward pass).
- `with_mode_seeking`: either G loss plus the mode-seeking term of the un-augmented fakes
  (`loss.ms_weight`); the loop adds it after whichever of the two it called.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.config import LossConfig
from gankit.data.diffaugment import diff_augment
from gankit.training.ada import ada_augment
from gankit.training.losses import LOSSES, Loss, accuracy, generator_loss
from gankit.training.penalties import mode_seeking, r1_penalty
from gankit.training.targets import d_targets


def instance_noise_std(step: int, total_steps: int, std0: float, anneal_steps: int = 0) -> float:
    """std0 decayed linearly to 0 over `anneal_steps` (0 = over the whole run, total_steps)."""
    if std0 <= 0:
        return 0.0
    span = anneal_steps if anneal_steps > 0 else total_steps
    if span <= 0:
        return float(std0)
    return float(std0) * max(0.0, 1.0 - step / span)


def topk_keep(epochs_done: float, keep: float, gamma: float) -> float:
    """The fraction of each fake batch G's loss uses after `epochs_done` (fractional) epochs:
    1 at the start, when D cannot yet tell good samples from bad, times `gamma` per epoch
    down to `keep` (Sinha et al. 2020 anneal k from the batch size by 0.99 per epoch)."""
    if keep >= 1.0:
        return 1.0
    return max(keep, gamma ** epochs_done)


@dataclass(frozen=True)
class DView:
    """`view(x, step)`: the images D is shown at `step` (augmented, then noised)."""

    policy: tuple[str, ...] = ()
    noise_std: float = 0.0
    noise_steps: int = 0
    total_steps: int = 0

    def sigma(self, step: int) -> float:
        return instance_noise_std(step, self.total_steps, self.noise_std, self.noise_steps)

    def __call__(self, x: Tensor, step: int, ada_p: float = 0.0) -> Tensor:
        x = ada_augment(diff_augment(x, list(self.policy)), ada_p)  # train.ada: each op with probability p
        sigma = self.sigma(step)
        return x + sigma * torch.randn_like(x) if sigma > 0 else x


@dataclass
class DResult:
    total: Tensor  # what D minimises
    real: Tensor  # the loss's real and fake parts (stats.jsonl)
    fake: Tensor
    real_logits: Tensor
    fake_logits: Tensor


def d_objective(D: nn.Module, loss: Loss, lo: LossConfig, real: Tensor, fake: Tensor, y: Tensor | None,
                real_t: Tensor, fake_t: Tensor, step: int = 0) -> DResult:
    """D's loss on already-viewed real and fake images (fake detached from G).

    R1 (on reals) and R2 (on fakes, the same zero-centred penalty) are lazy with `loss.r1_every`
    > 1 (StyleGAN2): computed every r1_every-th step and weighted by r1_every, so their expected
    weight is the same at a fraction of the cost."""
    due = step % lo.r1_every == 0
    r1, r2 = lo.r1_gamma > 0 and due, lo.r2_gamma > 0 and due
    if r1:
        real = real.detach().requires_grad_(True)
    if r2:
        fake = fake.detach().requires_grad_(True)
    real_logits, fake_logits = D(real, y), D(fake, y)
    d_real, d_fake = loss.d_parts(real_logits, fake_logits, real_t, fake_t)
    total = d_real + d_fake
    if loss.penalty is not None:
        total = total + lo.gp_weight * loss.penalty(D, real.detach(), fake.detach(), y)
    if r1:
        total = total + 0.5 * lo.r1_gamma * lo.r1_every * r1_penalty(real_logits, real)
    if r2:
        total = total + 0.5 * lo.r2_gamma * lo.r1_every * r1_penalty(fake_logits, fake)
    return DResult(total, d_real, d_fake, real_logits, fake_logits)


def clip_value(loss: Loss, lo: LossConfig) -> float:
    """The weight-clipping bound for D (0 = none): loss.clip_value, else the loss's own."""
    return lo.clip_value or (loss.clip or 0.0)


@torch.no_grad()
def clip_weights(D: nn.Module, c: float) -> None:
    """The original WGAN's constraint: every parameter of the critic clamped to [-c, c]."""
    for p in D.parameters():
        if p.requires_grad:  # frozen blocks (model.freeze_d_layers) keep their weights exactly
            p.clamp_(-c, c)


@contextlib.contextmanager
def frozen(module: nn.Module):
    """No gradients for module's parameters inside the block (their own flags restored after)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def with_mode_seeking(g_loss: Tensor, lo: LossConfig, fake: Tensor, z: Tensor, y: Tensor | None) -> Tensor:
    """G's loss plus loss.ms_weight times the mode-seeking term of its own (un-augmented) fakes
    (bounded at loss.ms_tau when that is > 0)."""
    return g_loss + lo.ms_weight * mode_seeking(fake, z, y, lo.ms_tau) if lo.ms_weight > 0 else g_loss


def fool_rate(loss: Loss, fake_logits: Tensor, real_logits: Tensor | None, swap: bool) -> float:
    """The fraction of fakes D takes for real: above the threshold, or (a pairing loss) above their
    real partner."""
    if loss.pair is not None:
        return float((fake_logits.detach().flatten() > real_logits.detach().flatten()).float().mean())
    return accuracy(fake_logits, fake_logits, loss.threshold, swap)[2]


def g_objective_from(d: DResult, loss: Loss, swap: bool, keep: float = 1.0) -> tuple[Tensor, float]:
    """(G's loss, fool rate) from the D step's fake logits (fake not detached from G);
    the loss on the `keep` fraction D rates most real (`topk_keep`), the fool rate on all."""
    return (generator_loss(loss, d.fake_logits, swap, keep, d.real_logits),
            fool_rate(loss, d.fake_logits, d.real_logits, swap))


def g_objective(D: nn.Module, loss: Loss, fake: Tensor, y: Tensor | None, swap: bool,
                keep: float = 1.0, real: Tensor | None = None) -> tuple[Tensor, float]:
    """(G's loss, fool rate) on already-viewed fake images; D's weights get no gradient.  A pairing
    loss reads each fake against D's view of a real image (`real`, constant for G)."""
    with frozen(D):
        logits = D(fake, y)
        real_logits = None
        if loss.pair is not None:
            with torch.no_grad():
                real_logits = D(real, y)
    return generator_loss(loss, logits, swap, keep, real_logits), fool_rate(loss, logits, real_logits, swap)


class Objective:
    """The D and G objectives of one run: `targets`, `d`, `g` (alternating) or `g_from` (simultaneous).

    `D` is what the D step calls (a DDP wrapper, a compiled module); `D_frozen` is what the G
    step calls (the module itself: D is frozen there and its gradients unused)."""

    def __init__(self, lo: LossConfig, diffaugment: list[str], total_steps: int, D: nn.Module, D_frozen: nn.Module,
                 pack: int = 1):
        self.lo, self.loss, self.D, self.D_frozen, self.pack = lo, LOSSES[lo.name], D, D_frozen, pack
        self.view = DView(tuple(diffaugment), lo.instance_noise, lo.instance_noise_steps, total_steps)
        self.clip = clip_value(self.loss, lo)

    def targets(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """D's real and fake targets for a batch: one per logit, so one per stack of a packed D."""
        lo = self.lo
        return d_targets(batch // self.pack, lo.real_label, lo.label_noise, lo.label_flip, lo.swap_labels,
                         generator=generator)

    def keep(self, epochs_done: float) -> float:  # top-k G training: the fraction of fakes G's loss uses
        return topk_keep(epochs_done, self.lo.g_topk, self.lo.g_topk_gamma)

    def d(self, real: Tensor, fake: Tensor, y: Tensor | None, real_t: Tensor, fake_t: Tensor, step: int,
          ada_p: float = 0.0) -> DResult:
        return d_objective(self.D, self.loss, self.lo, self.view(real, step, ada_p), self.view(fake, step, ada_p), y,
                           real_t, fake_t, step)

    def g(self, fake: Tensor, z: Tensor, y: Tensor | None, step: int, keep: float,
          ada_p: float = 0.0, real: Tensor | None = None) -> tuple[Tensor, float]:
        # the same view as the D step's (policy, ADA's p, noise): D is asked about what it was trained on
        seen_real = self.view(real, step, ada_p) if self.loss.pair is not None else None
        g_loss, fool = g_objective(self.D_frozen, self.loss, self.view(fake, step, ada_p), y, self.lo.swap_labels,
                                   keep, seen_real)
        return with_mode_seeking(g_loss, self.lo, fake, z, y), fool

    def g_from(self, d: DResult, fake: Tensor, z: Tensor, y: Tensor | None, keep: float) -> tuple[Tensor, float]:
        g_loss, fool = g_objective_from(d, self.loss, self.lo.swap_labels, keep)
        return with_mode_seeking(g_loss, self.lo, fake, z, y), fool

    def accuracy(self, d: DResult) -> tuple[float, float, float]:
        """(on real, on fake, fool rate); for a pairing loss, the pairs D orders rightly, twice."""
        if self.loss.pair is not None:
            fooled = fool_rate(self.loss, d.fake_logits, d.real_logits, False)
            return 1.0 - fooled, 1.0 - fooled, fooled
        return accuracy(d.real_logits, d.fake_logits, self.loss.threshold, self.lo.swap_labels)

    def after_d_step(self, D: nn.Module) -> None:
        if self.clip:  # WGAN: the critic's weights stay in [-c, c]
            clip_weights(D, self.clip)

