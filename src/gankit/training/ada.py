"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data"): augment everything D sees with a probability p that follows D's
overfitting.

With few images D memorises the training set within minutes: it grows sure of every real image
and its feedback to G degrades.  ADA measures that with r_t = E[sign(D(real))] (0 when D cannot
tell, 1 when it is sure of every real image), over `INTERVAL` D steps, and moves p towards the
value that holds r_t at `train.ada_target` (the paper's 0.6): up when r_t is above it, down when
below, by a step sized so that p can go from 0 to 1 in `train.ada_kimg` thousand images (the
paper's 500).  Each augmentation op (the DiffAugment ops: translation, colour, cutout, all
differentiable, so G learns through them) is applied to each image with probability p, in the
D step and the G step alike, so augmentations "leak" into G only while p stays below about 0.8
(the paper's finding for its pipeline).  p, and the signs gathered since its last update, are
part of the training state: a resume continues exactly.

`train.ada=auto` (the default preset's setting) is resolved once, before config.json records it
(`resolve`): on for fewer than AUTO_BELOW training images, where the loss can serve it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gankit.data.diffaugment import color, cutout, translation
from gankit.data.diffaugment import resolve as resolve_diffaugment
from gankit.training.losses import LOSSES

INTERVAL = 4  # D steps between updates of p (the paper's N=4 minibatches)
OPS = (translation, color, cutout)
# auto: on below this many training images, where D memorises the set within a run; above it
# D was never short of data (the measurements: docs/techniques.md, "ADA")
AUTO_BELOW = 10_000


@dataclass
class AdaState:
    """ADA's part of the training state: the augmentation probability p, and sign(D(real)) summed
    over the images seen since p last moved (saved in every checkpoint, so a resume continues exactly)."""

    p: float = 0.0
    signs: float = 0.0
    count: int = 0

    def state_dict(self) -> dict:
        return {"p": self.p, "signs": self.signs, "count": self.count}

    @classmethod
    def from_dict(cls, d: dict) -> "AdaState":
        return cls(float(d.get("p", 0.0)), float(d.get("signs", 0.0)), int(d.get("count", 0)))


def unservable(cfg) -> str | None:
    """Why this config cannot use ADA (None if it can): r_t reads the sign of D's output on real
    images, and ADA applies the DiffAugment ops itself."""
    if cfg.loss.name in ("wgan", "wgan-gp"):
        return (f"train.ada reads D's overfitting from the sign of its output on real images, which a "
                f"{cfg.loss.name} critic's output does not have (it is unbounded, any offset); use loss.name=hinge "
                "or ns with train.ada, or train.diffaugment with a critic")
    if LOSSES[cfg.loss.name].pair is not None:
        return (f"train.ada reads D's overfitting from the sign of its output on real images, which a pairing loss "
                f"(loss.name={cfg.loss.name}) leaves free: only D(x) - D(G(z)) counts; use train.diffaugment with it")
    if cfg.loss.swap_labels:
        return "train.ada reads D(real) > 0 as 'real'; loss.swap_labels=true trains D the other way round: turn one " \
               "of them off"
    if cfg.train.diffaugment and cfg.train.diffaugment != "auto":  # auto gives way to ADA
        return "train.ada applies the DiffAugment ops itself, with its adaptive probability; leave " \
               "train.diffaugment empty with train.ada=true"
    return None


def resolve(cfg, data) -> None:
    """The augmentation autos from the data, in place and in the order they depend on: train.ada=auto
    becomes true for fewer than AUTO_BELOW images when the config can serve it, else false; then
    train.diffaugment=auto, which gives way to ADA (data/diffaugment.resolve).  Called once, by the
    pre-flight (launch/start.resolve), before config.json records them."""
    if cfg.train.ada == "auto":
        cfg.train.ada = len(data) < AUTO_BELOW and unservable(cfg) is None
    resolve_diffaugment(cfg.train, data.images.shape[1])


def ada_augment(x: Tensor, p: float) -> Tensor:
    """Each op applied to each image with probability p (torch's global generator)."""
    if p <= 0:
        return x
    for op in OPS:
        chosen = (torch.rand(x.shape[0], device=x.device) < p).view(-1, 1, 1, 1)
        x = torch.where(chosen, op(x), x)
    return x


def overfitting(real_logits: Tensor) -> tuple[float, int]:
    """(sum of sign(D(real)), count): r_t's parts, gathered over an interval."""
    return float(torch.sign(real_logits.detach().float()).sum()), int(real_logits.numel())


def adjusted(p: float, r_t: float, target: float, images: int, kimg: float) -> float:
    """p one step towards holding r_t at target: +-images/(kimg*1000), within [0, 1]."""
    step = images / (kimg * 1000.0)
    return min(1.0, max(0.0, p + (step if r_t > target else -step)))
