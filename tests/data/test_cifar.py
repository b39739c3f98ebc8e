"""CIFAR-10 from fake binary and python archives built here, and via a local download."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.cifar import CLASS_NAMES, load_cifar10_split
from gankit.errors import GankitError

N_PER_BATCH = 2  # 5 train batches -> 10 images, test batch -> 2 images


def fake_batch(batch: int):
    """Images whose R, G, B planes are constants that encode (batch, index, channel)."""
    imgs = np.zeros((N_PER_BATCH, 3, 32, 32), np.uint8)
    for i in range(N_PER_BATCH):
        for c in range(3):
            imgs[i, c] = 100 * c + 10 * batch + i
    labels = np.array([(batch * N_PER_BATCH + i) % 10 for i in range(N_PER_BATCH)], np.uint8)
    return imgs, labels


BATCHES = {f"data_batch_{b}": b for b in range(1, 6)} | {"test_batch": 0}


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def binary_tarball(path, extra: dict[str, bytes] | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, b in BATCHES.items():
            imgs, labels = fake_batch(b)
            rec = np.concatenate([labels[:, None], imgs.reshape(N_PER_BATCH, -1)], axis=1)
            add(tar, f"cifar-10-batches-bin/{name}.bin", rec.tobytes())
        add(tar, "cifar-10-batches-bin/batches.meta.txt", "\n".join(CLASS_NAMES).encode())
        for name, data in (extra or {}).items():
            add(tar, name, data)
    return path


def python_tarball(path, override: dict[str, bytes] | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, b in BATCHES.items():
            imgs, labels = fake_batch(b)
            d = {b"batch_label": name.encode(), b"labels": labels.tolist(),
                 b"data": imgs.reshape(N_PER_BATCH, -1), b"filenames": [b"x.png"] * N_PER_BATCH}
            data = (override or {}).get(name) or pickle.dumps(d, protocol=4)
            add(tar, f"cifar-10-batches-py/{name}", data)
    return path


def expected(split: str):
    names = [n for n in BATCHES if (n == "test_batch") == (split == "test")]
    parts = [fake_batch(BATCHES[n]) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]).astype(np.int64)


@pytest.mark.parametrize("make", [binary_tarball, python_tarball])
@pytest.mark.parametrize("split", ["train", "test"])
def test_fake_archives_decode(tmp_path, make, split):
    name = "cifar-10-binary.tar.gz" if make is binary_tarball else "cifar-10-python.tar.gz"
    make(tmp_path / name)
    with pytest.warns(UserWarning, match="differs from the official"):
        data = load_cifar10_split(split, tmp_path)
    imgs, labels = expected(split)
    assert data.images.shape == (len(imgs), 3, 32, 32) and data.images.is_contiguous()
    np.testing.assert_array_equal(data.images.numpy(), imgs)  # CHW planes land where they belong
    assert data.labels.tolist() == labels.tolist() and data.class_names[3] == "cat"
    assert data.name == f"cifar10/{split}"


def test_binary_preferred_over_python_in_a_directory(tmp_path):
    (tmp_path / "cifar10").mkdir()
    binary_tarball(tmp_path / "cifar10" / "cifar-10-binary.tar.gz")
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"not even a tarball")
    with pytest.warns(UserWarning):
        assert len(load_cifar10_split("test", tmp_path)) == N_PER_BATCH


def test_class_filter_by_names_or_indices(tmp_path):
    binary_tarball(tmp_path / "cifar-10-binary.tar.gz")
    with pytest.warns(UserWarning):
        by_name = load_dataset(DataConfig(dataset="cifar10", classes=["cat", "dog"]), str(tmp_path))
        by_index = load_dataset(DataConfig(dataset="cifar10", classes=["3", "5"]), str(tmp_path))
    # train labels are 2..11 mod 10 = 2,3,4,5,6,7,8,9,0,1: one cat (3) and one dog (5)
    assert by_name.labels.tolist() == [3, 5] and torch.equal(by_name.images, by_index.images)
    assert by_name.class_names == CLASS_NAMES  # full list kept: "cat" is still label 3


def test_member_with_dotdot_is_refused(tmp_path):
    path = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add(tar, "cifar-10-batches-bin/../test_batch.bin", bytes(3073))
    with pytest.warns(UserWarning), pytest.raises(GankitError, match="suspicious member path"):
        load_cifar10_split("test", tmp_path)


def test_truncated_binary_batch(tmp_path):
    path = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add(tar, "cifar-10-batches-bin/test_batch.bin", bytes(3073 + 5))
    with pytest.warns(UserWarning), pytest.raises(GankitError, match="3078 bytes is not a whole number"):
        load_cifar10_split("test", tmp_path)


class RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_python_archive_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({b"data": RunsCode(), b"labels": []}, protocol=4)
    python_tarball(tmp_path / "cifar-10-python.tar.gz", override={"test_batch": evil})
    with pytest.warns(UserWarning), pytest.raises(GankitError, match="refusing to load global .*system"):
        load_cifar10_split("test", tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_download_from_local_server(http_root, isolated_env):
    root, url = http_root
    tarball = binary_tarball(root / "cifar-10-binary.tar.gz")
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    data = load_cifar10_split("test", mirrors=[url + "/missing", url], md5=md5)
    assert data.labels.tolist() == expected("test")[1].tolist()
    assert sorted(p.name for p in (isolated_env / "cifar10").iterdir()) == ["cifar-10-binary.tar.gz"]


def test_download_with_wrong_md5_leaves_cache_empty(http_root, isolated_env):
    root, url = http_root
    binary_tarball(root / "cifar-10-binary.tar.gz")
    with pytest.raises(GankitError, match="cifar-10-binary.tar.gz") as e:
        load_cifar10_split("test", mirrors=[url])  # expects the official md5
    assert "c32a1d4ab5d03f1284b67883e8d87530" in str(e.value) and "--data-dir" in str(e.value)
    folder = isolated_env / "cifar10"  # a failed download removes the folder it made
    assert not folder.exists() or list(folder.iterdir()) == []


def test_extracted_binary_directory(tmp_path):
    with tarfile.open(binary_tarball(tmp_path / "t.tar.gz")) as tar:
        for m in tar.getmembers():
            (tmp_path / m.name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / m.name).write_bytes(tar.extractfile(m).read())
    data = load_cifar10_split("train", tmp_path)  # a directory has no archive md5 to warn about
    np.testing.assert_array_equal(data.images.numpy(), expected("train")[0])
