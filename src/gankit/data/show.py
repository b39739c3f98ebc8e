"""`gankit data show`: a grid of real images and the number of images per class."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.data.imagedata import ImageData
from gankit.util.imageio import save_grid

UNLABELLED = "(unlabelled)"


def class_counts(data: ImageData) -> dict[str, int]:
    """Images per class name, in class order, classes with no images included as 0."""
    if not data.class_names:
        return {UNLABELLED: len(data)}
    counts = torch.bincount(data.labels, minlength=len(data.class_names)).tolist()
    return {name: int(c) for name, c in zip(data.class_names, counts)}


def show_dataset(data: ImageData, out_png: Path, n: int = 64) -> dict[str, int]:
    """Write a grid of the first n images to out_png; return images per class name.

    The first n are a fair sample: IDX and CIFAR files come shuffled, and folder data is
    ordered round-robin over classes.
    """
    save_grid(data.images[:n], out_png)
    return class_counts(data)
