"""Fashion-MNIST and MNIST: IDX files found locally or downloaded, checked by md5.

Checksums are of the decompressed bytes, because Debian's dataset-fashion-mnist package
recompresses the .gz files (different gz bytes, identical content).  Downloads are also
accepted by the md5 of the official .gz.  Files may be .gz or uncompressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gankit.data.cache import data_roots, describe_roots, download_dir, find_file
from gankit.data.download import fetch, join_url, mirrors_for
from gankit.data.idx import read_idx
from gankit.data.imagedata import ImageData
from gankit.errors import GankitError


@dataclass(frozen=True)
class IdxFile:
    base: str  # name without .gz, e.g. "train-images-idx3-ubyte"
    md5: str  # of the decompressed bytes
    gz_md5: str = ""  # of the official .gz, if known


@dataclass(frozen=True)
class IdxDataset:
    """Everything needed to find, fetch and check one IDX dataset."""

    name: str
    class_names: tuple[str, ...]
    train: tuple[IdxFile, IdxFile]  # images, labels
    test: tuple[IdxFile, IdxFile]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    sizes: tuple[int, int] = (60000, 10000)  # train, test
    shape: tuple[int, int] = (28, 28)

    def files(self, split: str) -> tuple[IdxFile, IdxFile]:
        if split not in ("train", "test"):
            raise GankitError(f"{self.name}: unknown split {split!r}; use train or test")
        return self.train if split == "train" else self.test


FASHION_MNIST = IdxDataset(
    name="fashion-mnist",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    train=(IdxFile("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                   "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
           IdxFile("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9",
                   "25c81989df183df01b3e8a0aad5dffbe")),
    test=(IdxFile("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a",
                  "bef4ecab320f06d8554ea6380940ec79"),
          IdxFile("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965",
                  "bb300cfdad3c16e7a12a480ee83cd310")),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

MNIST = IdxDataset(
    name="mnist",
    class_names=tuple(str(d) for d in range(10)),
    train=(IdxFile("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb",
                   "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
           IdxFile("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624",
                   "d53e105ee54ea40749a09fcbcd1e9432")),
    test=(IdxFile("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea",
                  "9fb629c4189551a2d022fa330f9573f3"),
          IdxFile("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637",
                  "ec29112dd5afa0611ce80d1b7f02629c")),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/"),
)


def locate(ds: IdxDataset, f: IdxFile, data_dir=None, mirrors: list[str] | None = None):
    """A local copy of the file (by lookup order), else a verified download into the cache."""
    roots = data_roots(data_dir, ds.system_dirs)
    found = find_file([f.base + ".gz", f.base], roots, ds.name)
    if found is not None:
        return found
    urls = mirrors_for(ds.name, ds.mirrors, mirrors)
    url = join_url(urls[0], f.base + ".gz")
    return fetch(f.base + ".gz", download_dir(ds.name), urls,
                 md5s=(f.gz_md5,) if f.gz_md5 else (), raw_md5s=(f.md5,),
                 not_found=f"{ds.name}/{f.base}(.gz) not found in {describe_roots(roots, ds.name)}",
                 fix=f"download {url} yourself and pass --data-dir DIR (file in DIR or DIR/{ds.name}/)")


def _read_checked(path, f: IdxFile, ndim: int) -> np.ndarray:
    arr, md5 = read_idx(path)
    if md5 != f.md5:
        raise GankitError(f"{path}: md5 of the decompressed content is {md5}, expected {f.md5}; the "
                          "file is corrupt or not the official one: delete it (a fresh copy is "
                          "downloaded) or replace it")
    if arr.ndim != ndim or arr.dtype != np.uint8:
        raise GankitError(f"{path}: expected {ndim}-d uint8 IDX data, found {arr.ndim}-d {arr.dtype}")
    return arr


def load_idx(ds: IdxDataset, split: str, data_dir=None, mirrors: list[str] | None = None) -> ImageData:
    """One split of an IDX dataset, every file md5-checked and shape-checked."""
    fi, fl = ds.files(split)
    ipath = locate(ds, fi, data_dir, mirrors)
    lpath = locate(ds, fl, data_dir, mirrors)
    images = _read_checked(ipath, fi, 3)
    labels = _read_checked(lpath, fl, 1)
    n = ds.sizes[0 if split == "train" else 1]
    if len(images) != len(labels):
        raise GankitError(f"{ipath} holds {len(images)} images but {lpath} holds {len(labels)} labels; the two "
                          f"files do not belong together: get both of the {split} split from the same copy")
    if images.shape != (n, *ds.shape) or labels.shape != (n,):
        raise GankitError(f"{ipath}: expected {n} images of {ds.shape} and {n} labels, found "
                          f"{images.shape} and {labels.shape} ({lpath})")
    if int(labels.max(initial=0)) >= len(ds.class_names):
        raise GankitError(f"{lpath}: label {int(labels.max())} out of range 0-{len(ds.class_names) - 1}")
    return ImageData(
        images=torch.from_numpy(images).unsqueeze(1).contiguous(),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=list(ds.class_names),
        name=f"{ds.name}/{split}",
    )


def load_fashion_mnist(cfg, data_dir=None) -> ImageData:
    return load_idx(FASHION_MNIST, cfg.split, data_dir)


def load_mnist(cfg, data_dir=None) -> ImageData:
    return load_idx(MNIST, cfg.split, data_dir)
