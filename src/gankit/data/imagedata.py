"""`ImageData`, the in-memory dataset every source returns, and the transforms on it.

The transforms (class filter, limit, channel conversion, resize) are what `load_dataset`
applies after a source has produced its raw split.  They work on uint8 tensors and keep
the original label indices and the full `class_names`, so "cat" stays label 3 of 10 after
`classes=cat,dog` and a conditional model still sees the dataset's own numbering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gankit.errors import GankitError


@dataclass
class ImageData:
    images: torch.Tensor  # uint8 [N, C, H, W], contiguous, in memory
    labels: torch.Tensor  # int64 [N] (zeros if the source has no labels)
    class_names: list[str]  # index -> name ([] if unlabelled)
    name: str  # e.g. "fashion-mnist/train"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return num_classes(self.class_names)


def num_classes(class_names: list[str]) -> int:
    """The label count a model is built for: the classes, or 1 for unlabelled data (one "class")."""
    return max(len(class_names), 1)


def _norm(name: str) -> str:
    # "Ankle boot", "ankle-boot" and "ankleboot" should all select Fashion-MNIST's class 9
    return re.sub(r"[^0-9a-z]", "", name.lower())


def class_index(name: str, class_names: list[str]) -> int | None:
    """One class by name (exact, then case/punctuation-insensitive) or index; None if none fits.
    The one spelling rule of data.classes and `generate --class`."""
    if name in class_names:
        return class_names.index(name)
    if re.fullmatch(r"\s*[-+]\d+\s*", name):  # a signed index is no class (its digits alone may be one's name)
        return None
    loose = {_norm(n): i for i, n in enumerate(class_names)}
    if _norm(name) and _norm(name) in loose:
        return loose[_norm(name)]
    if name.strip().isdigit() and int(name) < len(class_names):
        return int(name)
    return None


def class_indices(wanted: list[str], class_names: list[str], where: str) -> list[int]:
    """Resolve class names (case/punctuation-insensitive) or integer indices to label indices.

    A name wins over an index, so a folder class literally called "3" is found by name.
    """
    if not class_names:
        raise GankitError(f"{where}: data.classes={','.join(wanted)} but this dataset has no "
                          "class labels (put images in one sub-folder per class)")
    out: list[int] = []
    for w in wanted:
        idx = class_index(w, class_names)
        if idx is None:
            raise GankitError(f"{where}: unknown class {w!r} in data.classes; choose names or "
                              f"indices 0-{len(class_names) - 1} of: {', '.join(class_names)}")
        if idx not in out:
            out.append(idx)
    return out


def select_classes(data: ImageData, wanted: list[str]) -> ImageData:
    """Keep only rows whose label is one of the wanted classes (order of rows preserved)."""
    if not wanted:
        return data
    keep = torch.tensor(class_indices(wanted, data.class_names, data.name), dtype=torch.int64)
    mask = torch.isin(data.labels, keep)
    if bool(mask.all()):
        return data
    return ImageData(data.images[mask].contiguous(), data.labels[mask].contiguous(),
                     data.class_names, data.name)


def take_first(data: ImageData, limit: int) -> ImageData:
    if limit <= 0 or limit >= len(data):
        return data
    return ImageData(data.images[:limit].contiguous(), data.labels[:limit].contiguous(),
                     data.class_names, data.name)


def rgb_to_gray(images: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma in Pillow's fixed-point form, so it matches Image.convert("L") exactly."""
    x = images.to(torch.int32)
    y = (x[:, 0] * 19595 + x[:, 1] * 38470 + x[:, 2] * 7471 + 0x8000) >> 16
    return y.unsqueeze(1).to(torch.uint8)


def convert_channels(data: ImageData, channels: int) -> ImageData:
    c = int(data.images.shape[1])
    if channels == 0 or channels == c:
        return data
    if c == 1 and channels == 3:
        images = data.images.expand(-1, 3, -1, -1).contiguous()
    elif c == 3 and channels == 1:
        images = rgb_to_gray(data.images).contiguous()
    else:
        raise GankitError(f"{data.name}: cannot convert {c}-channel images to data.channels={channels}")
    return ImageData(images, data.labels, data.class_names, data.name)


def resize_square(images: torch.Tensor, size: int, chunk: int = 2048) -> torch.Tensor:
    """Centre-crop to a square, then resize to size x size with antialiasing (uint8 in/out).

    Works in chunks so resizing 60,000 images never holds them all as float32.
    """
    n, c, h, w = images.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    cropped = images[:, :, top:top + s, left:left + s]
    if s == size:
        return cropped.contiguous()
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for i in range(0, n, chunk):
        x = cropped[i:i + chunk].to(torch.float32)
        y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i:i + chunk] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def resize(data: ImageData, resolution: int) -> ImageData:
    if resolution <= 0:
        return data
    _, _, h, w = data.images.shape
    if h == w == resolution:
        return data
    return ImageData(resize_square(data.images, resolution), data.labels, data.class_names, data.name)
