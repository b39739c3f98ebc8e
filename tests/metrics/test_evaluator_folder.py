"""An evaluator for any data (metrics/evaluator_folder.py): made once per data fingerprint, a
classifier on labelled folders, SimCLR on flat ones, and what the metrics do with each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import ImageData, load_dataset
from gankit.errors import GankitError
from gankit.metrics import evaluate_samples
from gankit.metrics import evaluator_folder as ef


def stripes(n: int, vertical: bool, seed: int, size: int = 32) -> np.ndarray:
    """n RGB images of random-phase stripes, vertical or horizontal."""
    g = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        period, phase = g.integers(3, 8), g.integers(0, 8)
        wave = ((np.arange(size) + phase) // period % 2 * 200 + 30).astype(np.uint8)
        img = np.tile(wave, (size, 1)) if vertical else np.tile(wave[:, None], (1, size))
        out[i] = img[..., None] * np.array(g.uniform(0.4, 1.0, 3))
    return out


def write_folder(root, groups: dict[str, np.ndarray]):
    for name, imgs in groups.items():
        d = root / name if name else root
        d.mkdir(parents=True, exist_ok=True)
        for i, a in enumerate(imgs):
            Image.fromarray(a).save(d / f"{i:04d}.png")
    return root


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(ef, "SSL_STEPS", 12)
    monkeypatch.setattr(ef, "CLASSIFIER_BATCHES", 10)


@pytest.fixture
def flat(tmp_path):
    return write_folder(tmp_path / "flat", {"": np.concatenate([stripes(130, True, 0), stripes(130, False, 1)])})


@pytest.fixture
def labelled(tmp_path):
    return write_folder(tmp_path / "lab", {"vertical": stripes(130, True, 2), "horizontal": stripes(130, False, 3)})


def folder(path) -> ImageData:
    return load_dataset(DataConfig(dataset="folder", path=str(path)))


def test_a_flat_folder_gets_a_self_supervised_evaluator_once(flat, fast):
    data = folder(flat)
    assert ef.find_evaluator("folder", data) is None  # nothing shipped serves it, nothing made yet
    lines: list[str] = []
    ev = ef.evaluator_or_make("folder", data, log=lines.append)
    assert ev.card["method"] == "ssl" and ev.class_names == [] and ev.key.startswith("ssl-")
    assert ev.card["fingerprint"] == ef.fingerprint(data) and ev.card["images"] == 260
    assert 0 <= ev.card["ssl_pair_accuracy"] <= 1 and ev.card["ssl_chance_accuracy"] == round(1 / 99, 4)  # 50 held out
    assert any("training a ssl on" in line for line in lines)  # progress said while it trains
    card = json.loads((ef.evaluator_dir() / f"{ev.key}.json").read_text())
    assert card["sha256"] == ev.sha256
    # the second time it is found, not trained
    again = ef.evaluator_or_make("folder", data, log=lambda line: pytest.fail(f"trained again: {line}"))
    assert again.sha256 == ev.sha256


def test_a_changed_folder_is_a_new_fingerprint(flat, fast):
    data = folder(flat)
    ef.ensure_evaluator(data, log=lambda line: None)
    Image.fromarray(stripes(1, True, 9)[0]).save(flat / "zz-new.png")
    changed = folder(flat)
    assert ef.fingerprint(changed) != ef.fingerprint(data)
    assert ef.find_evaluator("folder", changed) is None
    lines: list[str] = []
    ef.ensure_evaluator(changed, log=lines.append)  # said, then a new one for the new images
    assert any("folder:flat changed since evaluator ssl-" in line and "(260 images then, 261 now)" in line
               for line in lines)


def test_a_labelled_folder_gets_a_classifier_with_held_out_accuracy(labelled, fast):
    data = folder(labelled)
    card = ef.train_data_evaluator(data, log=lambda line: None)
    assert card["method"] == "classifier" and card["class_names"] == ["horizontal", "vertical"]
    assert card["accuracy_images"] == 50 and card["test_accuracy"] > 0.5  # stripes' direction is easy
    ssl = ef.train_data_evaluator(data, "ssl", log=lambda line: None)  # asked for: its own key
    assert ssl["key"].startswith("ssl-") and ssl["fingerprint"] == card["fingerprint"] and ssl["key"] != card["key"]


def test_the_ssl_metrics_have_no_classes_and_small_data_keeps_a_floor(flat, fast):
    data = folder(flat)
    ev = ef.ensure_evaluator(data, log=lambda line: None)
    fake = data.images[torch.randperm(len(data), generator=torch.Generator().manual_seed(1))[:200]]
    with pytest.warns(Warning):  # n=200: the small-n warning
        m = evaluate_samples(fake, "folder", data, n=200, kid_subsets=5, evaluator=ev)
    assert m["evaluator_sha256"] == ev.sha256 and m["fid"] >= 0
    assert "cs" not in m and "classes_covered" not in m  # a projection head is not classes
    # 260 images, n=200: the reference and the floor get half each, so the floor exists
    assert m["reference_n"] == 130 and m["floor_fid"] >= 0 and "precision" in m


def test_an_ssl_evaluator_tells_real_images_from_noise(flat, fast):
    data = folder(flat)
    ev = ef.ensure_evaluator(data, log=lambda line: None)
    noise = torch.randint(0, 256, (200, 3, 32, 32), dtype=torch.uint8)
    with pytest.warns(Warning):
        real = evaluate_samples(data.images[:200], "folder", data, n=200, kid_subsets=5, evaluator=ev)
        bad = evaluate_samples(noise, "folder", data, n=200, kid_subsets=5, evaluator=ev)
    assert bad["fid"] > 5 * real["fid"]


def test_too_few_images_is_one_line(tmp_path, fast):
    data = folder(write_folder(tmp_path / "few", {"": stripes(20, True, 0)}))
    with pytest.raises(GankitError, match="20 images are too few for an evaluator"):
        ef.train_data_evaluator(data)
    assert ef.evaluator_or_make("folder", data) is None  # the caller says why; nothing trained


def test_method_checks(flat):
    data = folder(flat)
    with pytest.raises(GankitError, match="needs labelled images"):
        ef.resolve_method(data, "classifier")
    with pytest.raises(GankitError, match="unknown evaluator method"):
        ef.resolve_method(data, "inception")
