"""Adversarial losses as pure functions of discriminator outputs (no models here).

Every loss takes D's raw outputs ("logits": no sigmoid applied) and returns a scalar.
`LOSSES` maps the CLI name (`loss.name`) to a `Loss`:

  bce      Goodfellow et al. 2014, the original saturating minimax game
  ns       Goodfellow et al. 2014, the non-saturating generator loss used in practice
  ns-sigmoid  the same game as a D ending in a sigmoid scored by torch.nn.BCELoss computes it:
           probabilities, whose log PyTorch clamps at -100 (a confident D stops teaching)
  hinge    Lim & Ye 2017 / Miyato et al. 2018, hinge loss
  wgan     Arjovsky et al. 2017, the Wasserstein critic loss with D's weights clipped
  wgan-gp  Gulrajani et al. 2017, the Wasserstein critic loss with its gradient penalty
  lsgan    Mao et al. 2017, least squares with targets a (fake), b (real), c = 1 (for G)
  rpgan    Jolicoeur-Martineau 2019 / Sun et al. 2020, relativistic pairing: each real image paired
           with a fake, D scored on D(x) - D(G(z)); R3GAN (Huang et al. 2024) with R1 and R2

D losses are the sum of a real-batch mean and a fake-batch mean, so a D that is right
on one half and wrong on the other shows up as ~half of a chance-level loss.
Label swapping (real=0, fake=1): the targets handed to `d_loss` are already swapped by
`labels.d_targets`; the generator and accuracy then need the mirrored view of D's output,
which `generator_loss(..., swap=True)` and `accuracy(..., swap=True)` provide.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.training.penalties import gradient_penalty

Target = Tensor | float


@dataclass(frozen=True)
class Loss:
    d_real: Callable[[Tensor, Target], Tensor]  # D's loss on the real batch, given targets
    d_fake: Callable[[Tensor, Target], Tensor]  # ... and on the fake batch
    g_loss: Callable[[Tensor], Tensor]  # g_loss(fake_logits)
    uses_targets: bool  # reads real/fake targets (smoothing, noise, flips, swap apply)
    threshold: float  # D says "real" when its output is above this
    description: str
    # penalty(D, real, fake, y) -> Tensor, weighted by loss.gp_weight: the loss's own
    # regulariser.  It takes gradients per sample, so D's outputs must not mix samples
    # (no batch norm, mbstd or minibatch discrimination: launch/validate.py rejects them).
    penalty: Callable[..., Tensor] | None = None
    # the original WGAN's Lipschitz constraint: every D parameter clamped to [-clip, clip]
    # after each D step (loss.clip_value overrides it); None = no clipping
    clip: float | None = None
    # a relativistic pairing loss: f of the paired differences, D minimising f(D(x) - D(G(z))) and G
    # f(D(G(z)) - D(x)); d_real, d_fake and g_loss are then not used (d_parts and generator_loss
    # call this instead)
    pair: Callable[[Tensor], Tensor] | None = None
    # the zero-centred penalties (R1 on reals, R2 on fakes) keep D's gradient small where the data
    # is; a critic's loss (Wasserstein) has no such form: its gradient is meant to be ~1 everywhere
    zero_centred: bool = True

    def d_parts(
        self, real_logits: Tensor, fake_logits: Tensor, real_target: Target = 1.0, fake_target: Target = 0.0
    ) -> tuple[Tensor, Tensor]:
        """(loss on the real batch, loss on the fake batch); D minimises their sum.  A pairing loss
        is one term over the pairs: reported as the real part, with a fake part of 0."""
        if self.pair is not None:
            paired = self.pair(_flat(real_logits) - _flat(fake_logits)).mean()
            return paired, torch.zeros_like(paired)
        return self.d_real(real_logits, real_target), self.d_fake(fake_logits, fake_target)

    def d_loss(
        self, real_logits: Tensor, fake_logits: Tensor, real_target: Target = 1.0, fake_target: Target = 0.0
    ) -> Tensor:
        real, fake = self.d_parts(real_logits, fake_logits, real_target, fake_target)
        return real + fake


def _flat(logits: Tensor) -> Tensor:
    # D may return [N] or [N, 1]; losses are per-sample.
    return logits.reshape(logits.shape[0], -1).squeeze(1) if logits.dim() > 1 else logits


def _target(t: Target, like: Tensor) -> Tensor:
    if isinstance(t, Tensor):
        return t.to(device=like.device, dtype=like.dtype).reshape(like.shape)
    return torch.full_like(like, float(t))


def _bce(logits: Tensor, target: Target) -> Tensor:
    # t * softplus(-l) + (1 - t) * softplus(l), computed stably by torch
    logits = _flat(logits)
    return F.binary_cross_entropy_with_logits(logits, _target(target, logits))


def _bce_on_probs(logits: Tensor, target: Target) -> Tensor:
    # what nn.Sigmoid() then nn.BCELoss() compute: the probability rounds to exactly 0 or 1 in
    # float32 beyond |logit| ~17, where BCELoss's log clamp (-100) leaves no gradient, unlike the
    # fused form above.  Outside autocast: BCELoss refuses half precision inputs.
    with torch.autocast(logits.device.type, enabled=False):
        probs = torch.sigmoid(_flat(logits).float())
        return F.binary_cross_entropy(probs, _target(target, probs))


def _ns_probs_g(fake: Tensor) -> Tensor:
    return _bce_on_probs(fake, 1.0)


def _minimax_g(fake: Tensor) -> Tensor:
    # G minimises E log(1 - sigmoid(l)) = E log sigmoid(-l) = -E softplus(l); this form
    # never takes log of a rounded-to-zero probability.
    return -F.softplus(_flat(fake)).mean()


def _ns_g(fake: Tensor) -> Tensor:
    # -E log sigmoid(l) = E softplus(-l): strong gradients while D rejects the fakes.
    return F.softplus(-_flat(fake)).mean()


def _hinge_real(real: Tensor, _target_unused: Target = 1.0) -> Tensor:
    return F.relu(1.0 - _flat(real)).mean()


def _hinge_fake(fake: Tensor, _target_unused: Target = 0.0) -> Tensor:
    return F.relu(1.0 + _flat(fake)).mean()


def _critic_real(real: Tensor, _target_unused: Target = 1.0) -> Tensor:
    return -_flat(real).mean()


def _critic_fake(fake: Tensor, _target_unused: Target = 0.0) -> Tensor:
    return _flat(fake).mean()


def _critic_g(fake: Tensor) -> Tensor:
    return -_flat(fake).mean()


def _squared(logits: Tensor, target: Target) -> Tensor:
    logits = _flat(logits)
    return 0.5 * (logits - _target(target, logits)).pow(2).mean()


def _lsgan_g(fake: Tensor) -> Tensor:
    return _squared(fake, 1.0)


def _relativistic(difference: Tensor) -> Tensor:
    # softplus(-d) = -log sigmoid(d): the pair's cross-entropy that the first of the two is the real one
    return F.softplus(-difference)


def _paired_only(*_) -> Tensor:
    raise TypeError("a pairing loss scores real and fake logits together (Loss.pair)")


LOSSES: dict[str, Loss] = {
    "bce": Loss(
        _bce, _bce, _minimax_g, True, 0.0,
        "original minimax GAN: D = binary cross-entropy, G minimises log(1 - D(G(z))) (saturates)",
    ),
    "ns": Loss(
        _bce, _bce, _ns_g, True, 0.0,
        "non-saturating GAN: D = binary cross-entropy, G maximises log D(G(z))",
    ),
    "ns-sigmoid": Loss(
        _bce_on_probs, _bce_on_probs, _ns_probs_g, True, 0.0,
        "non-saturating GAN as a sigmoid-ended D with torch.nn.BCELoss computes it (probabilities, log clamped at "
        "-100): the MNIST study's BCELoss beside ns's BCEWithLogitsLoss",
    ),
    "hinge": Loss(
        _hinge_real, _hinge_fake, _critic_g, False, 0.0,
        "hinge loss: D = relu(1 - D(x)) + relu(1 + D(G(z))), G = -D(G(z))",
    ),
    "wgan": Loss(
        _critic_real, _critic_fake, _critic_g, False, 0.0,
        "original Wasserstein GAN: critic D(G(z)) - D(x), D's weights clipped to [-0.01, 0.01] (loss.clip_value), "
        "G = -D(G(z)); with RMSprop and n_critic=5 (preset wgan)",
        clip=0.01, zero_centred=False,
    ),
    "wgan-gp": Loss(
        _critic_real, _critic_fake, _critic_g, False, 0.0,
        "Wasserstein critic D(G(z)) - D(x) plus gradient penalty (loss.gp_weight), G = -D(G(z))",
        penalty=gradient_penalty, zero_centred=False,
    ),
    "lsgan": Loss(
        _squared, _squared, _lsgan_g, True, 0.5,
        "least squares GAN: D regresses real to 1, fake to 0; G pushes D(G(z)) to 1",
    ),
    "rpgan": Loss(
        _paired_only, _paired_only, _paired_only, False, 0.0,
        "relativistic pairing GAN: D = softplus(-(D(x) - D(G(z)))) over pairs of a real and a fake, G mirrored; "
        "with loss.r1_gamma and loss.r2_gamma it is R3GAN's objective",
        pair=_relativistic,
    ),
}


def mirror(logits: Tensor, threshold: float) -> Tensor:
    """D's output seen with real and fake swapped: reflected about the decision threshold.

    For logit losses (threshold 0) this is -l, for lsgan 1 - l, so a swapped-label D
    viewed through `mirror` is an ordinary D.
    """
    return 2.0 * threshold - logits


def top_k(fake_logits: Tensor, keep: float) -> Tensor:
    """The ceil(keep * n) fake logits D rates most real (its output is higher for "real" in
    every loss here): top-k training (Sinha et al. 2020) gives G no gradient from the
    samples D already rejects most, which pull G towards the average of bad samples."""
    flat = _flat(fake_logits)
    k = max(1, math.ceil(keep * flat.shape[0]))
    return flat if k >= flat.shape[0] else flat.topk(k).values


def generator_loss(loss: Loss, fake_logits: Tensor, swap: bool = False, keep: float = 1.0,
                   real_logits: Tensor | None = None) -> Tensor:
    """`loss.g_loss` on the `keep` fraction of fakes D rates most real (`top_k`), also
    correct when D was trained with swapped labels (real=0, fake=1).  A pairing loss reads each
    fake against its real partner (`real_logits`, constant for G)."""
    if loss.pair is not None:
        return loss.pair(_flat(fake_logits) - _flat(real_logits).detach()).mean()
    if swap:
        fake_logits = mirror(fake_logits, loss.threshold)
    return loss.g_loss(top_k(fake_logits, keep))


@torch.no_grad()
def accuracy(
    real_logits: Tensor, fake_logits: Tensor, threshold: float, swap: bool = False
) -> tuple[float, float, float]:
    """(D accuracy on real, D accuracy on fake, G fool rate = fraction of fakes judged real)."""
    real, fake = _flat(real_logits).float(), _flat(fake_logits).float()
    if swap:
        real, fake = mirror(real, threshold), mirror(fake, threshold)
    real_acc = (real > threshold).float().mean().item()
    fooled = (fake > threshold).float().mean().item()
    return real_acc, 1.0 - fooled, fooled
