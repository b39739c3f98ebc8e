"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same random augmentation family is applied to real *and* fake images right before D,
and every op is differentiable so G still receives gradients through it.  Parameters are
drawn independently per sample (each image gets its own brightness, shift, cutout box).

The ops are defined for images in [-1, 1] like the paper: brightness adds U(-0.5, 0.5),
translation and cutout fill with 0 (mid-grey in [-1, 1]).  On [0, 1] data the same ops
run unchanged; the brightness shift is then relatively twice as strong and the fill is
black.  Saturation mixes each pixel with its channel mean, so on 1-channel images it is a
no-op.  Randomness comes from torch's global generator (seeded by the trainer).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import GankitError

# train.diffaugment=auto (the default preset): all three ops on colour images, unless ADA runs (it
# applies the same ops itself, with its adaptive probability).  Measured on cats+dogs (10,000
# colour images at 32 px; docs/studies.md "Cats and dogs"): FID 61.5 without and 35.6 with after
# 12 minutes side by side, as D stopped memorising the set (27.3 over two seeds on a faster day);
# on grey Fashion-MNIST's 60,000 images translation alone cost FID at 3 minutes
# (lab/studies/fashion-speed-1.toml), so grey images stay unaugmented.
AUTO_OPS = ("color", "translation", "cutout")


def _per_sample(x: Tensor) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)


def brightness(x: Tensor) -> Tensor:
    return x + (_per_sample(x) - 0.5)


def saturation(x: Tensor) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_per_sample(x) * 2.0) + mean


def contrast(x: Tensor) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_sample(x) + 0.5) + mean


def color(x: Tensor) -> Tensor:
    return contrast(saturation(brightness(x)))


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to `ratio` of its size in x and y; uncovered pixels become 0."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1) + dy  # source row of each output pixel
    xs = torch.arange(w, device=x.device).view(1, 1, w) + dx
    # A one-pixel zero border: out-of-range sources are clamped onto it, so they read 0.
    padded = F.pad(x, [1, 1, 1, 1])
    ys = (ys + 1).clamp(0, h + 1).expand(n, h, w)
    xs = (xs + 1).clamp(0, w + 1).expand(n, h, w)
    flat = ys * (w + 2) + xs  # [n, h, w] indices into the flattened padded image
    idx = flat.reshape(n, 1, h * w).expand(n, x.shape[1], h * w)
    return padded.flatten(2).gather(2, idx).view_as(x)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of `ratio` of the image size at a random centre (may overhang the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # centres range so that the box can touch every edge, as in the paper
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h)
    cols = torch.arange(w, device=x.device).view(1, w)
    in_y = (rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch)
    in_x = (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw)
    keep = ~(in_y.unsqueeze(2) & in_x.unsqueeze(1))  # [n, h, w]
    return x * keep.unsqueeze(1).to(x.dtype)


AUGMENTS: dict[str, Callable[[Tensor], Tensor]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def resolve(train, channels: int) -> None:
    """train.diffaugment=auto becomes AUTO_OPS on colour images (3 channels) when train.ada is off,
    else [], in place; called by ada.resolve once train.ada is resolved."""
    if train.diffaugment == "auto":
        train.diffaugment = list(AUTO_OPS) if channels == 3 and train.ada is not True else []


def diff_augment(x: Tensor, policy: list[str]) -> Tensor:
    """Apply the ops of `policy` in order; an empty policy returns x itself."""
    for name in policy:
        if name not in AUGMENTS:
            raise GankitError(
                f"unknown DiffAugment op {name!r}; choose from: {', '.join(AUGMENTS)}"
            )
        x = AUGMENTS[name](x)
    return x
