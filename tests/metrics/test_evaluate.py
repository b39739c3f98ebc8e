"""evaluate_samples on real Fashion-MNIST with the shipped evaluator, the table and Inception path."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import evaluate_samples, format_table, inception_status
from gankit.metrics.inception import WEIGHTS_NAME


def small(data, n):
    from gankit.data import ImageData

    return ImageData(data.images[:n], data.labels[:n], data.class_names, data.name + f"[:{n}]")


def test_real_images_score_like_the_floor_and_noise_does_not(fashion_train, fashion_test):
    train, test = small(fashion_train, 3000), small(fashion_test, 2000)
    real_fake = fashion_test.images[5000:5500]  # unseen real images as "generated" samples
    m = evaluate_samples(real_fake, "fashion-mnist", train, n=500, device="cpu", kid_subsets=20, test=test)
    for key in ("fid", "kid_mean", "kid_std", "cs", "precision", "recall", "density", "coverage",
                "classes_covered", "class_hist", "nn_dist_mean"):
        assert key in m and "floor_" + key in m
    assert m["n"] == 500 and sum(m["class_hist"]) == 500 and m["classes_covered"] == 10
    # real images are as good as the floor: same FID order, precision/recall near 1
    assert m["fid"] < 3 * m["floor_fid"] + 1
    assert abs(m["kid_mean"]) < 3 * m["kid_std"] + abs(m["floor_kid_mean"])
    assert m["precision"] > 0.8 and m["recall"] > 0.8

    noise = torch.randint(0, 256, (500, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    bad = evaluate_samples(noise, "fashion-mnist", train, n=500, kid_subsets=20, test=test)
    assert bad["fid"] > 10 * m["fid"] and bad["precision"] < 0.05 and bad["coverage"] < 0.05
    assert bad["floor_fid"] == m["floor_fid"]  # the floor comes from the cache, unchanged

    copies = train.images[:500]  # memorised training images: nearest-train distance 0
    mem = evaluate_samples(copies, "fashion-mnist", train, n=500, kid_subsets=20, test=test)
    assert mem["nn_dist_mean"] == pytest.approx(0.0, abs=1e-3) and mem["memorised_frac"] == 1.0

    table = format_table(m).splitlines()
    assert "real-vs-real floor" in table[1]
    fid_row = next(line for line in table if line.startswith("FID")).split()
    assert float(fid_row[1]) == pytest.approx(m["fid"], abs=0.01)
    assert float(fid_row[2]) == pytest.approx(m["floor_fid"], abs=0.01)


def test_floor_without_test_split_uses_disjoint_training_images(fashion_train):
    train = small(fashion_train, 2000)
    m = evaluate_samples(fashion_train.images[10000:10300], "fashion-mnist", train, n=300, kid_subsets=10)
    assert "disjoint" in m["floor_kind"]
    # floor images were removed from the nearest-neighbour reference, so their distance is > 0
    assert m["floor_nn_dist_mean"] > 0


def test_inception_missing_gives_where_to_put_the_file(monkeypatch, tmp_path, metrics_cache, fashion_train):
    monkeypatch.setenv("GANKIT_INCEPTION", str(tmp_path / "nope.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path, message = inception_status()
    assert path is None
    assert WEIGHTS_NAME in message and metrics_cache in message and "GANKIT_INCEPTION" in message
    train = small(fashion_train, 1000)
    m = evaluate_samples(fashion_train.images[20000:20200], "fashion-mnist", train, n=200, kid_subsets=5,
                         with_inception=True)
    assert "inception_fid" not in m and any(WEIGHTS_NAME in note for note in m["notes"])
    assert WEIGHTS_NAME in format_table(m)


def test_no_evaluator_and_no_inception_is_a_clear_error(monkeypatch, tmp_path):
    from gankit.data import ImageData

    monkeypatch.setenv("GANKIT_INCEPTION", str(tmp_path / "nope.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    data = ImageData(torch.zeros(50, 3, 8, 8, dtype=torch.uint8), torch.zeros(50, dtype=torch.long), ["a"], "folder:x")
    with pytest.raises(GankitError, match="gankit evaluator train"):
        evaluate_samples(data.images, "folder", data, n=50)


def test_bad_input_is_rejected(fashion_train):
    with pytest.raises(GankitError, match="uint8"):
        evaluate_samples(torch.zeros(100, 1, 28, 28), "fashion-mnist", fashion_train, n=100)
