"""Image tensors to pixels and files: range conversion, grids and PNG writing.

Used for dataset previews, training sample grids and generated images, so every part
of the project writes images the same way.  Images are uint8 [N, C, H, W] with C = 1 or 3;
network outputs are floats in the data range ("-1,1" for tanh, "0,1" for sigmoid).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.util.atomic import atomic_path

RANGES = ("-1,1", "0,1")


def _check_range(range: str) -> None:
    if range not in RANGES:
        raise ValueError(f"unknown pixel range {range!r}; use one of {RANGES}")


def to_uint8(x: torch.Tensor, range: str = "-1,1") -> torch.Tensor:
    """Float images in `range` -> uint8 (rounded, values outside the range clipped)."""
    _check_range(range)
    x = x.detach().to(torch.float32)
    scaled = (x + 1.0) * 127.5 if range == "-1,1" else x * 255.0
    return scaled.round().clamp(0, 255).to(torch.uint8).cpu()


def to_float(images: torch.Tensor, range: str = "-1,1") -> torch.Tensor:
    """uint8 images -> float32 in `range` (the inverse of to_uint8 on the 256 levels)."""
    _check_range(range)
    x = images.to(torch.float32)
    return x / 127.5 - 1.0 if range == "-1,1" else x / 255.0


def make_grid(
    images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 0
) -> np.ndarray:
    """uint8 [N, C, H, W] -> one uint8 H x W x C image, `nrow` images per row (default ~sqrt N).

    Cells are separated (and framed) by `padding` pixels of `pad_value`; unused cells of
    the last row stay `pad_value`.
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"make_grid wants uint8 [N, 1|3, H, W], got {images.dtype} {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = max(1, min(nrow or math.ceil(math.sqrt(max(n, 1))), max(n, 1)))
    rows = math.ceil(n / nrow) if n else 1
    grid = np.full((padding + rows * (h + padding), padding + nrow * (w + padding), c), pad_value, np.uint8)
    pix = images.cpu().numpy().transpose(0, 2, 3, 1)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = pix[i]
    return grid


def to_pil(array: np.ndarray, scale: int = 1) -> Image.Image:
    """An H x W x C (C = 1 or 3) or H x W uint8 array as a PIL image (grey when C = 1), each pixel
    repeated `scale` times each way (nearest neighbour, so small images stay sharp when shown)."""
    arr = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
    if scale > 1:
        arr = arr.repeat(scale, 0).repeat(scale, 1)
    return Image.fromarray(np.ascontiguousarray(arr))


def save_image(array: np.ndarray, path: str | Path) -> Path:
    """Write an H x W x C (C = 1 or 3) or H x W uint8 array as PNG, creating parent dirs.

    Atomic (gankit.util.atomic): a killed run never leaves a truncated PNG behind."""
    path = Path(path)
    img = to_pil(array)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, padding: int = 2) -> Path:
    return save_image(make_grid(images, nrow, padding), path)


def save_pngs(images: torch.Tensor, out_dir: str | Path, prefix: str = "", start: int = 0) -> list[Path]:
    """One PNG per uint8 [C, H, W] image: out_dir/{prefix}{index:06d}.png."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pix = images.cpu().numpy().transpose(0, 2, 3, 1)
    return [save_image(p, out_dir / f"{prefix}{start + i:06d}.png") for i, p in enumerate(pix)]
