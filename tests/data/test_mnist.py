"""Fashion-MNIST and MNIST: real files when present, checksum and shape errors on fakes."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.idx import to_idx
from gankit.data.mnist import FASHION_MNIST, MNIST, IdxDataset, IdxFile, load_idx
from gankit.errors import GankitError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_DIR = Path("/work/shared/datasets/mnist")


@pytest.mark.skipif(not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(), reason="no dataset-fashion-mnist")
def test_real_fashion_mnist_from_system_dir():
    # no data_dir, empty cache: the Debian system directory is found; md5s of content checked
    train = load_dataset(DataConfig(dataset="fashion-mnist", split="train"))
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.images.is_contiguous() and train.labels.dtype == torch.int64
    assert torch.bincount(train.labels).tolist() == [6000] * 10  # the published class balance
    assert train.class_names[7] == "Sneaker" and train.name == "fashion-mnist/train"
    test = load_dataset(DataConfig(dataset="fashion-mnist", split="test", classes=["ankle-boot"]))
    assert len(test) == 1000 and set(test.labels.tolist()) == {9}


@pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST test files")
@pytest.mark.parametrize("data_dir", [MNIST_DIR, MNIST_DIR.parent])  # files directly or in mnist/
def test_real_mnist_test_split(data_dir):
    data = load_dataset(DataConfig(dataset="mnist", split="test"), str(data_dir))
    assert data.images.shape == (10000, 1, 28, 28)
    assert data.labels[:5].tolist() == [7, 2, 1, 0, 4]  # the famous first test digits
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # published per-digit counts
    assert torch.bincount(data.labels).tolist() == counts


def test_mnist_train_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(GankitError) as e:
        load_dataset(DataConfig(dataset="mnist", split="train"), str(tmp_path))
    msg = str(e.value)
    assert "mnist/train-images-idx3-ubyte(.gz) not found in" in msg and str(tmp_path) in msg
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg and "--data-dir" in msg


def test_known_checksums_are_of_content_and_gz():
    # the brief's values, kept in one place: decompressed md5 for local files, gz md5 for downloads
    assert FASHION_MNIST.train[0].md5 == "f4a8712d7a061bf5bd6d2ca38dc4d50a"
    assert MNIST.test[0].gz_md5 == "9fb629c4189551a2d022fa330f9573f3"
    assert MNIST.train[0].gz_md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


def write_split(d: Path, images: np.ndarray, labels: np.ndarray, gz=True) -> tuple[IdxFile, IdxFile]:
    out = []
    for base, arr in (("imgs", images), ("lbls", labels)):
        raw = to_idx(arr)
        (d / (base + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
        out.append(IdxFile(base, hashlib.md5(raw).hexdigest()))
    return out[0], out[1]


def spec(files, n=3, shape=(2, 2), classes=("a", "b")) -> IdxDataset:
    return IdxDataset(name="fake", class_names=classes, train=files, test=files, mirrors=("http://127.0.0.1:9/",),
                      sizes=(n, n), shape=shape)


def test_uncompressed_files_load(tmp_path):
    imgs = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    files = write_split(tmp_path, imgs, np.array([1, 0, 1], np.uint8), gz=False)
    data = load_idx(spec(files), "test", tmp_path)
    assert data.images[:, 0].numpy().tolist() == imgs.tolist() and data.labels.tolist() == [1, 0, 1]
    assert data.name == "fake/test"


def test_local_checksum_mismatch_names_file_and_md5s(tmp_path):
    imgs = np.zeros((3, 2, 2), np.uint8)
    fi, fl = write_split(tmp_path, imgs, np.zeros(3, np.uint8))
    wrong = IdxFile(fi.base, "f" * 32)
    with pytest.raises(GankitError) as e:
        load_idx(spec((wrong, fl)), "train", tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "imgs.gz") in msg and "f" * 32 in msg and fi.md5 in msg


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((2, 2, 2), np.uint8), np.zeros(2, np.uint8), "expected 3 images"),
        (np.zeros((3, 2, 2), np.uint8), np.array([0, 1, 2], np.uint8), "label 2 out of range 0-1"),
        (np.zeros((3, 4), np.uint8), np.zeros(3, np.uint8), "expected 3-d uint8"),
    ],
)
def test_shape_and_label_errors(tmp_path, images, labels, message):
    files = write_split(tmp_path, images, labels)
    with pytest.raises(GankitError, match=message):
        load_idx(spec(files), "train", tmp_path)


def test_data_dir_copy_beats_system_dir(tmp_path):
    imgs = np.full((3, 2, 2), 7, np.uint8)
    sysdir, mine = tmp_path / "sys", tmp_path / "mine" / "fake"
    sysdir.mkdir()
    mine.mkdir(parents=True)
    files = write_split(sysdir, imgs, np.zeros(3, np.uint8))
    s = IdxDataset(**{**spec(files).__dict__, "system_dirs": (str(sysdir),)})
    assert load_idx(s, "train").images.unique().tolist() == [7]  # found in the system dir
    for f in sysdir.iterdir():
        shutil.copy(f, mine / f.name)
    (sysdir / "imgs.gz").write_bytes(b"broken")  # only the data_dir copy is valid now
    assert load_idx(s, "train", tmp_path / "mine").images.unique().tolist() == [7]
