"""Datasets as uint8 tensors in memory: the DATASETS registry and `load_dataset`.

Each source turns (DataConfig, data_dir) into the raw split as an `ImageData`;
`load_dataset` then applies the options common to all of them, in this order: class
filter (original label indices and class_names are kept), limit, channels, resolution.
See docs/data.md for where files are looked for and how they are checked.
"""

from __future__ import annotations

from typing import Callable

from gankit.data.cache import cache_root, data_roots
from gankit.data.cifar import load_cifar10
from gankit.data.folder import load_folder
from gankit.data.imagedata import ImageData, convert_channels, num_classes, resize, select_classes, take_first
from gankit.data.mnist import load_fashion_mnist, load_mnist
from gankit.data.stacked import load_stacked_mnist
from gankit.errors import GankitError

DATASETS: dict[str, Callable[..., ImageData]] = {
    "fashion-mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "folder": load_folder,
    "stacked-mnist": load_stacked_mnist,
}


def load_dataset(cfg, data_dir: str | None = None) -> ImageData:
    """The split named by cfg (a DataConfig), filtered and converted as it asks."""
    if cfg.dataset not in DATASETS:
        raise GankitError(f"unknown dataset {cfg.dataset!r}; choose one of: {', '.join(DATASETS)}")
    data = DATASETS[cfg.dataset](cfg, data_dir)
    data = select_classes(data, list(cfg.classes))
    data = take_first(data, cfg.limit)
    if len(data) == 0:
        raise GankitError(f"{data.name}: no images left after data.classes / data.limit")
    data = convert_channels(data, cfg.channels)
    return resize(data, cfg.resolution)


__all__ = ["DATASETS", "ImageData", "cache_root", "data_roots", "load_dataset", "num_classes"]
