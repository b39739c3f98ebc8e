"""load_dataset: registry dispatch, then class filter, limit, channels and resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import DATASETS, ImageData, load_dataset
from gankit.data.imagedata import resize_square, rgb_to_gray
from gankit.errors import GankitError


def test_registry_keys():
    assert set(DATASETS) == {"fashion-mnist", "mnist", "cifar10", "folder", "stacked-mnist"}


@pytest.fixture
def fake(monkeypatch):
    """A registered 'fake' source: 6 RGB 4x4 images, labels 0,1,2,0,1,2, pixel value = row index."""
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 3, 4, 4).contiguous()
    data = ImageData(images, torch.tensor([0, 1, 2, 0, 1, 2]), ["Ankle boot", "b", "c"], "fake/train")
    monkeypatch.setitem(DATASETS, "fake", lambda cfg, data_dir=None: data)
    return data


def test_classes_by_name_or_index_then_limit(fake):
    data = load_dataset(DataConfig(dataset="fake", classes=["c", "0"], limit=3))
    assert data.labels.tolist() == [0, 2, 0]  # rows 0, 2, 3 in their original order
    assert data.images[:, 0, 0, 0].tolist() == [0, 2, 3]
    assert data.class_names == ["Ankle boot", "b", "c"]  # kept whole: labels are not renumbered


def test_class_names_are_matched_loosely(fake):
    for spelling in ("Ankle boot", "ankle-boot", "ANKLEBOOT"):
        assert load_dataset(DataConfig(dataset="fake", classes=[spelling])).labels.tolist() == [0, 0]


def test_unknown_class_lists_the_choices(fake):
    with pytest.raises(GankitError, match="unknown class 'cat'.*0-2 of: Ankle boot, b, c"):
        load_dataset(DataConfig(dataset="fake", classes=["cat"]))


def test_classes_on_unlabelled_data(monkeypatch):
    data = ImageData(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64), [], "u")
    monkeypatch.setitem(DATASETS, "u", lambda cfg, data_dir=None: data)
    with pytest.raises(GankitError, match="no class labels"):
        load_dataset(DataConfig(dataset="u", classes=["a"]))


def test_empty_after_filter(monkeypatch):
    data = ImageData(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64), ["a", "b"], "x")
    monkeypatch.setitem(DATASETS, "x", lambda cfg, data_dir=None: data)
    with pytest.raises(GankitError, match="no images left"):
        load_dataset(DataConfig(dataset="x", classes=["b"]))


def test_channels_both_ways(fake, monkeypatch):
    gray = load_dataset(DataConfig(dataset="fake", channels=1))
    assert gray.images.shape == (6, 1, 4, 4) and gray.images[:, 0, 0, 0].tolist() == list(range(6))
    monkeypatch.setitem(DATASETS, "gray", lambda cfg, data_dir=None: gray)
    rgb = load_dataset(DataConfig(dataset="gray", channels=3))
    assert rgb.images.shape == (6, 3, 4, 4) and rgb.images.is_contiguous()
    assert torch.equal(rgb.images, fake.images)  # gray replicated into R, G and B


def test_gray_formula_matches_pillow():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ours = rgb_to_gray(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0, 0].numpy()
    np.testing.assert_array_equal(ours, np.asarray(Image.fromarray(rgb).convert("L")))


def test_resize_antialiased_closed_form():
    # rows [0, 0, 175, 175] halved: an antialiased triangle filter of radius 2 puts weights
    # .75, .75, .25 on the three nearest pixels, so 0 -> 175*.25/1.75 = 25 and 150 beside it
    x = torch.tensor([0, 0, 175, 175], dtype=torch.uint8).repeat(4, 1).view(1, 1, 4, 4)
    assert resize_square(x, 2)[0, 0].tolist() == [[25, 150], [25, 150]]


def test_resize_keeps_constants_and_crops_non_square():
    x = torch.full((3, 1, 4, 8), 77, dtype=torch.uint8)
    x[:, :, :, :2] = 0  # outside the centre 4x4 square
    x[:, :, :, 6:] = 0
    y = resize_square(x, 9)
    assert y.shape == (3, 1, 9, 9) and y.unique().tolist() == [77]


def test_resolution_through_load_dataset(fake):
    data = load_dataset(DataConfig(dataset="fake", resolution=8))
    assert data.images.shape == (6, 3, 8, 8) and data.images[:, 0, 0, 0].tolist() == list(range(6))
