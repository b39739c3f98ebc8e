"""Classic data augmentation of the real images (`data.augment`): flips, small rotations, shifts.

Unlike DiffAugment (diffaugment.py), which shows D the same random transform of real *and* fake
images, this transforms the real batch only, once per step, before D sees it.  G is then
trained to match the augmented distribution: mirrored, tilted or shifted images are real
as far as D knows, so G learns to generate them.  That is the point for a small dataset
whose images may appear in any of these poses, and a defect where they may not (a mirrored
"2" is not a digit); `leak_warnings` names the visible cases and train() shows them.

Per image, in this order whatever the order of the list:
- `hflip`: mirrored left-right with probability 1/2;
- `rotate`: turned by U(-d, d) degrees (d = data.augment_degrees), bilinear;
- `translate`: shifted by whole pixels dy, dx in [-s, s] (s = data.augment_shift).
Pixels the image does not cover repeat its edge (no fill colour: a constant border would be
one more thing G learns to draw), and every output pixel is a convex mix of input pixels, so
the data range is kept.  Random numbers come from torch's generator on the batch's device
(or `generator`): in the loop that is the global one, which a resume restores with the rest
of the checkpoint's RNG, so a resumed run draws the same transforms.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import DataConfig
from gankit.errors import GankitWarning

REAL_AUGMENTS = ("hflip", "rotate", "translate")

# (op, data.dataset) -> what G will visibly learn; datasets not named here (folders) are the
# user's to judge (docs/techniques.md says that every op leaks)
_LEAKS = {
    ("hflip", "mnist"): "G will learn mirrored digits",
    ("rotate", "mnist"): "G will learn tilted digits",
    ("rotate", "fashion-mnist"): "G will learn tilted clothes where the data's are upright",
    ("rotate", "cifar10"): "G will learn tilted photos where the data's are upright",
    ("translate", "mnist"): "G will learn off-centre digits where the data's are centred",
    ("translate", "fashion-mnist"): "G will learn off-centre items where the data's are centred",
}


def hflip(x: Tensor, chosen: Tensor) -> Tensor:
    """x with the images where `chosen` [N] (bool) is true mirrored left-right."""
    return torch.where(chosen.view(-1, 1, 1, 1), x.flip(-1), x)


def rotate(x: Tensor, degrees: Tensor) -> Tensor:
    """Each image turned by its angle in `degrees` [N] about its centre (edge pixels repeated)."""
    n, _, h, w = x.shape
    rad = degrees.to(x.dtype) * (math.pi / 180.0)
    cos, sin = rad.cos(), rad.sin()
    zero = torch.zeros_like(cos)
    # affine_grid works in coordinates normalised to [-1, 1] per axis: the h/w factors make it
    # a rotation in pixels, not a shear, when the image is not square
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def translate(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """Each image's content moved dy [N] pixels down and dx [N] right (edge pixels repeated)."""
    n, c, h, w = x.shape
    rows = (torch.arange(h, device=x.device).view(1, h) - dy.view(n, 1)).clamp(0, h - 1)  # source row of each row
    cols = (torch.arange(w, device=x.device).view(1, w) - dx.view(n, 1)).clamp(0, w - 1)
    out = x.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w))
    return out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))


def augment_real(x: Tensor, cfg: DataConfig, generator: torch.Generator | None = None) -> Tensor:
    """The real batch x [N, C, H, W] with data.augment applied per image; x itself when it is
    empty (no random numbers drawn, so a run without it is unchanged)."""
    ops = set(cfg.augment)
    if not ops:
        return x
    n, dev = x.shape[0], x.device
    if "hflip" in ops:
        x = hflip(x, torch.rand(n, generator=generator, device=dev) < 0.5)
    if "rotate" in ops:
        d = cfg.augment_degrees
        x = rotate(x, (torch.rand(n, generator=generator, device=dev) * 2.0 - 1.0) * d)
    if "translate" in ops:
        s = cfg.augment_shift
        dy = torch.randint(-s, s + 1, (n,), generator=generator, device=dev)
        dx = torch.randint(-s, s + 1, (n,), generator=generator, device=dev)
        x = translate(x, dy, dx)
    return x


def leak_warnings(cfg: DataConfig) -> list[str]:
    """One line per op of data.augment that visibly leaks into what G generates on this dataset."""
    out = []
    for op in dict.fromkeys(cfg.augment):  # the user's order, each op once
        what = _LEAKS.get((op, cfg.dataset))
        if what:
            out.append(f"data.augment={op} on {cfg.dataset}: {what} (the augmentation leaks into the generated "
                       "distribution); use train.diffaugment for D-only augmentation")
    return out


def warn_leaks(cfg: DataConfig) -> None:
    for line in leak_warnings(cfg):
        warnings.warn(GankitWarning(line), stacklevel=2)
