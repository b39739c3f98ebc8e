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
    data = ImageData(torch.zeros(200, 3, 8, 8, dtype=torch.uint8), torch.zeros(200, dtype=torch.long), ["a"], "folder:x")
    with pytest.raises(GankitError, match="gankit evaluator train"):
        evaluate_samples(data.images[:50], "folder", data, n=50)
    few = ImageData(data.images[:50], data.labels[:50], ["a"], "folder:few")  # too few to make one: no such advice
    with pytest.raises(GankitError, match="its 50 images are too few to train one") as e:
        evaluate_samples(few.images, "folder", few, n=50)
    assert "gankit evaluator train" not in str(e.value)


def test_bad_input_is_rejected(fashion_train):
    with pytest.raises(GankitError, match="uint8"):
        evaluate_samples(torch.zeros(100, 1, 28, 28), "fashion-mnist", fashion_train, n=100)


def _fashion_like(n: int, seed: int, name: str = "fashion-mnist/train"):
    """Random 28x28 images under Fashion-MNIST's name and classes: the shipped evaluator serves them."""
    from gankit.data import ImageData
    from gankit.metrics.evaluator import evaluator_key

    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert evaluator_key("fashion-mnist", names) == "fashion-mnist"
    return ImageData(images, torch.randint(0, 10, (n,), generator=g), names, name)


def _gankit_warnings(record) -> list[str]:
    from gankit.errors import GankitWarning

    return [str(w.message) for w in record if issubclass(w.category, GankitWarning)]


def test_metrics_record_n_reference_split_and_size_and_the_evaluators_sha256():
    import hashlib
    import warnings

    from gankit.metrics import PROVENANCE_KEYS
    from gankit.metrics.evaluator import find_evaluator_files

    real = _fashion_like(300, 0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m = evaluate_samples(_fashion_like(120, 1).images, "fashion-mnist", real, n=100, kid_subsets=5)
    weights, _ = find_evaluator_files("fashion-mnist")
    assert m["evaluator_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert m["n"] == 100 and m["reference"] == "fashion-mnist/train" and m["reference_split"] == "train"
    assert m["reference_size"] == 300  # the whole split the reference subset is drawn from
    assert m["reference_n"] == 100  # FID/KID/PRDC compare with min(n, reference_size) real images
    assert m["small_n_warning"] is True
    assert set(PROVENANCE_KEYS) - set(m) == {"inception_evaluator_sha256"}  # Inception did not run
    # once per evaluation, saying the figure is biased and not comparable
    assert _gankit_warnings(record) == [
        "FID/KID from n=100 samples (fewer than 2048) are biased and not comparable with figures at a "
        "larger n; use n >= 2048 for numbers to compare"]
    table = format_table(m).splitlines()
    assert ("samples: n=100 · reference: train split (fashion-mnist/train), 300 images "
            "(100 in the FID/KID subset)") in table
    assert f"evaluator sha256: {m['evaluator_sha256']}" in table
    assert any(line.startswith("small n: FID/KID from n=100 samples") for line in table)

    # the split is the caller's when given (a run trained on data.split=test), else read from the name
    from gankit.errors import GankitWarning

    with pytest.warns(GankitWarning, match="n=50 samples"):
        m = evaluate_samples(_fashion_like(50, 1).images, "fashion-mnist", _fashion_like(60, 0, "fashion-mnist/test"),
                             n=50, kid_subsets=2)
    # 60 images, no test split, n=50: the reference and the floor take half of them each
    assert m["reference_split"] == "test" and m["reference_size"] == 60 and m["reference_n"] == 30
    with pytest.warns(GankitWarning, match="n=50 samples"):
        m = evaluate_samples(_fashion_like(50, 1).images, "fashion-mnist", real, n=50, kid_subsets=2,
                             reference_split="validation")
    assert m["reference_split"] == "validation"


class _PooledPixels:
    """A cheap stand-in evaluator (4x4 average-pooled pixels as features) for the n >= 2048 case."""

    key, sha256 = "pooled-pixels", "0" * 64

    def embed(self, u8, device="cpu"):
        f = torch.nn.functional.adaptive_avg_pool2d(u8.float() / 255, 4).flatten(1)
        return f, f[:, :10]


def test_no_small_n_warning_from_2048_samples_on(monkeypatch):
    import warnings

    from gankit.metrics import evaluate as evaluate_module

    monkeypatch.setattr(evaluate_module, "_embedders", lambda *a: ([("", _PooledPixels())], []))
    real = _fashion_like(2100, 2)
    fake = _fashion_like(2048, 3).images
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m = evaluate_samples(fake, "fashion-mnist", real, n=2048, kid_subsets=2)
        assert _gankit_warnings(record) == [] and m["small_n_warning"] is False
        # 2,100 images and no test split: the reference and the floor take half each
        assert m["n"] == 2048 and m["reference_n"] == 1050 and m["reference_size"] == 2100
        assert m["evaluator_sha256"] == "0" * 64
        assert not any(line.startswith("small n:") for line in format_table(m).splitlines())
        m = evaluate_samples(fake, "fashion-mnist", real, n=2047, kid_subsets=2)
        assert m["small_n_warning"] is True and len(_gankit_warnings(record)) == 1


def test_the_nearest_neighbour_metrics_read_the_first_knn_max_n_samples_and_the_rest_all_of_them(monkeypatch):
    from gankit.errors import GankitWarning
    from gankit.metrics import evaluate as evaluate_module
    from gankit.metrics.manifold import nearest_distance, prdc
    from gankit.metrics.reference import subset_indices

    class Classes(_PooledPixels):
        class_names = [str(c) for c in range(10)]

    monkeypatch.setattr(evaluate_module, "_embedders", lambda *a: ([("", Classes())], []))
    real = _fashion_like(400, 4)
    # the first 60 samples are real-like, the other 140 white: only the k-NN metrics ignore them
    white = torch.full((140, 1, 28, 28), 255, dtype=torch.uint8)
    fake = torch.cat([_fashion_like(60, 6).images, white])
    with pytest.warns(GankitWarning, match="n=200 samples"):  # the small-n warning, as always below 2048
        full = evaluate_samples(fake, "fashion-mnist", real, n=200, kid_subsets=2)
        monkeypatch.setattr(evaluate_module, "KNN_MAX_N", 60)
        capped = evaluate_samples(fake, "fashion-mnist", real, n=200, kid_subsets=2)
    assert full["knn_n"] == 200 and capped["knn_n"] == 60 and capped["n"] == 200
    # FID, KID and the class counts still read all 200 samples
    assert capped["fid"] == full["fid"] and capped["kid_mean"] == full["kid_mean"]
    assert sum(capped["class_hist"]) == 200 and capped["class_hist"] == full["class_hist"]
    # precision/recall and the nearest-training distances are those of the first 60 against the
    # first 60 of the reference subset
    emb = _PooledPixels()
    fake_f, _ = emb.embed(fake[:60])
    train_f, _ = emb.embed(real.images)
    ref_f = train_f[subset_indices(400, 400, 0)[:capped["reference_n"]]][:60]
    assert capped["precision"] == pytest.approx(prdc(fake_f, ref_f)["precision"])
    assert capped["nn_dist_mean"] == pytest.approx(float(nearest_distance(fake_f, train_f).mean()))
    # the white images are gone from what they read
    assert capped["precision"] > full["precision"] + 0.3
    # the floor was measured again with the cap, not read from the uncapped cache
    assert capped["floor_precision"] != full["floor_precision"]
    line = "precision/recall/density/coverage and nearest-training distances: the first 60 samples"
    assert line in format_table(capped).splitlines() and line not in format_table(full)
