"""Latent walks: `gankit generate RUN --interpolate K --gif walk.gif`.

A few keyframe noise vectors z are drawn from `--seed` (the way `sampling.inputs` draws them);
the walk visits them in order and returns to the first, with K frames per leg made by
spherical interpolation (`slerp`).  Gaussian z of a few dozen dimensions lie near a sphere of
radius sqrt(z_dim): a straight line between two of them passes through lower-norm points G
never saw in training, while slerp keeps the norm, so the in-between images stay typical.

A conditional run walks the same z path once per trained class (one row per class, or the
one `--class`), so the rows differ only in the label.  Written as an animated GIF (each frame:
every row's image at that point of the path) and a PNG strip (rows = classes, columns =
frames) beside it; from a run directory the strip is also copied to RUN/samples/walk.png,
which the run report shows under "Latent walk".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.errors import GankitError
from gankit.models.sampling import inputs, trained_classes
from gankit.util.atomic import atomic_path
from gankit.util.imageio import make_grid, save_image, to_pil, to_uint8

KEYFRAMES = 4  # keyframes on the closed path: enough to see several garments morph, a short GIF
FRAME_MS = 80  # GIF frame duration
MIN_FRAME_SIDE = 192  # small images are enlarged (nearest neighbour) to at least this many pixels


def slerp(a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    """Spherical interpolation from a (t=0) to b (t=1) along the great circle of their directions.

    a, b: [..., D]; t: a number or a tensor broadcastable against a[..., :1].  Norms are
    interpolated linearly (so unit vectors stay unit vectors); nearly parallel inputs fall back
    to linear interpolation, where the two agree.  t=0 and t=1 give a and b exactly.
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.dim() > 0 and t.shape[-1] != 1:
        t = t.unsqueeze(-1)
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(dim=-1, keepdim=True), b64.norm(dim=-1, keepdim=True)
    cos = ((a64 / na.clamp_min(1e-30)) * (b64 / nb.clamp_min(1e-30))).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    t64 = t.double()
    parallel = so.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(so), so)
    wa = torch.where(parallel, 1.0 - t64, torch.sin((1.0 - t64) * omega) / safe)
    wb = torch.where(parallel, t64, torch.sin(t64 * omega) / safe)
    out = (wa * a64 + wb * b64).to(a.dtype)
    # exact endpoints whatever the round-off of sin(omega) / sin(omega)
    out = torch.where(t == 0, a, out)
    return torch.where(t == 1, b, out)


def walk_latents(keys: Tensor, k: int) -> Tensor:
    """[M*k, D]: k frames per leg of the closed path keys[0] -> keys[1] -> ... -> keys[0];
    each leg starts on its keyframe (t = 0, 1/k, ..., (k-1)/k)."""
    if k < 1:
        raise GankitError(f"--interpolate {k}: must be at least 1 frame per pair of keyframes")
    t = torch.arange(k, dtype=torch.float64) / k
    legs = [slerp(keys[i].expand(k, -1), keys[(i + 1) % len(keys)].expand(k, -1), t) for i in range(len(keys))]
    return torch.cat(legs)


@torch.no_grad()
def walk_images(G, z_path: Tensor, classes: Tensor | None, data_range: str, batch: int = 500) -> Tensor:
    """uint8 [rows, frames, C, H, W]: G along z_path, once per class (rows) or once (unconditional)."""
    frames = z_path.shape[0]
    rows = len(classes) if classes is not None else 1
    z = z_path.float().repeat(rows, 1)
    y = classes.repeat_interleave(frames) if classes is not None else None
    out = []
    for i in range(0, z.shape[0], batch):
        out.append(G(z[i:i + batch], y[i:i + batch] if y is not None else None).cpu())
    imgs = to_uint8(torch.cat(out), data_range)
    return imgs.view(rows, frames, *imgs.shape[1:])


def strip(images: Tensor) -> np.ndarray:
    """[rows, frames, C, H, W] -> one H x W x C image: a row per class, a column per frame."""
    rows, frames = images.shape[:2]
    return make_grid(images.reshape(rows * frames, *images.shape[2:]), nrow=frames)


def gif_frames(images: Tensor) -> list[Image.Image]:
    """One picture per frame: every row's image at that point of the path, in a near-square grid."""
    rows, frames = images.shape[:2]
    nrow = math.ceil(math.sqrt(rows))
    out = []
    for f in range(frames):
        g = make_grid(images[:, f], nrow=nrow)
        out.append(to_pil(g, scale=math.ceil(MIN_FRAME_SIDE / max(1, min(g.shape[:2])))))
    return out


def write_gif(frames: list[Image.Image], path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        # disposal 1 keeps each full frame; optimize off so Pillow does not merge identical frames
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=FRAME_MS,
                       loop=0, disposal=1, optimize=False)
    return path


def latent_walk(gen, k: int, seed: int, gif: str | Path, cls: int | None = None,
                report_strip: Path | None = None, keyframes: int = KEYFRAMES) -> list[Path]:
    """Write the walk of `gen` (a LoadedRun) as GIF + PNG strip (+ the strip at `report_strip`: RunDir.walk_strip)."""
    gif = Path(gif)
    if gif.suffix.lower() != ".gif":
        raise GankitError(f"--gif {gif}: the file name must end in .gif")
    keys, _ = inputs(gen.G, keyframes, torch.Generator().manual_seed(seed), gen.prior)
    z_path = walk_latents(keys, k)
    classes = None
    if gen.G.conditional:
        classes = torch.tensor([cls]) if cls is not None else trained_classes(gen.prior)
    images = walk_images(gen.G, z_path, classes, gen.cfg.data.range)
    written = [write_gif(gif_frames(images), gif)]
    picture = strip(images)
    written.append(save_image(picture, gif.with_suffix(".png")))
    if report_strip is not None:
        written.append(save_image(picture, report_strip))
    return written
