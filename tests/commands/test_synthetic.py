"""synthetic.py: `gankit generate RUN --dataset OUT` writes a labelled dataset that gankit's own
loaders read back with the run's classes, counts and pixels, and a manifest that pins it to
the exact checkpoint."""

import hashlib
import json
import warnings

import numpy as np
import pytest
import torch
from tiny_runs import tiny_run

from gankit.cli import main
from gankit.commands.synthetic import balanced_counts, balanced_labels, folder_names, write_dataset
from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.idx import read_idx
from gankit.errors import GankitError
from gankit.models.sampling import sample
from gankit.runs.load import load_generator
from gankit.util.imageio import to_uint8


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), True, reference_cache)


@pytest.fixture(scope="module")
def uncond_run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), False, reference_cache)


def expected_images(run, counts: dict[int, int], seed: int) -> torch.Tensor:
    """What the dataset must hold: the run's G sampled with the balanced labels, in class order."""
    gen = load_generator(str(run.path))
    x, _ = sample(gen.G, sum(counts.values()), seed, gen.prior, balanced_labels(counts))
    return to_uint8(x, gen.cfg.data.range)


def test_png_dataset_round_trips_through_the_folder_loader(cond_run, tmp_path):
    out = tmp_path / "synth"
    assert main(["generate", str(cond_run.path), "--dataset", str(out), "--per-class", "3", "--seed", "5"]) == 0
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    folders = folder_names(names)
    assert sorted(p.name for p in (out / "train").iterdir()) == sorted(folders)
    assert "T-shirt_top" in folders  # "/" cannot be in a folder name
    for f in folders:
        assert sorted(p.name for p in (out / "train" / f).iterdir()) == ["000000.png", "000001.png", "000002.png"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the manifest beside train/ must not count as a stray file
        data = load_dataset(DataConfig(dataset="folder", path=str(out)))
    assert data.name.endswith("/train") and sorted(data.class_names) == sorted(folders)
    assert torch.bincount(data.labels).tolist() == [3] * 10
    # every image sits in its class's folder with the exact pixels G made for that class
    expected = expected_images(cond_run, {c: 3 for c in range(10)}, seed=5)
    for label, name in enumerate(names):
        got = data.images[data.labels == data.class_names.index(folders[label])]
        assert torch.equal(got, expected[3 * label:3 * label + 3]), name
    # the run's class name still selects its folder (the lookup ignores punctuation)
    shirts = load_dataset(DataConfig(dataset="folder", path=str(out), classes=["T-shirt/top"]))
    assert len(shirts) == 3


def test_manifest_pins_the_checkpoint_and_the_settings(cond_run, tmp_path):
    out = tmp_path / "synth"
    out.mkdir()  # an empty folder is fine
    gen = load_generator(str(cond_run.path))
    gen.G.truncation_psi = 0.7  # as `generate --truncation` sets it on a style-based G
    m = write_dataset(gen, cond_run.path, out, n=25, seed=2)
    saved = json.loads((out / "manifest.json").read_text())
    assert saved == m
    assert m["checkpoint_sha256"] == hashlib.sha256(cond_run.last_checkpoint.read_bytes()).hexdigest()
    assert m["step"] == 4 and m["seed"] == 2 and m["n"] == 25 and m["truncation_psi"] == 0.7
    assert "--truncation 0.7" in m["command"] and "--seed 2" in m["command"]
    assert list(m["per_class"].values()) == [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    assert m["gankit_version"] and m["date"] and m["image_shape"] == [1, 28, 28]
    assert [c["label"] for c in m["classes"]] == list(range(10))


def test_idx_dataset_is_read_by_the_idx_reader(cond_run, tmp_path):
    out = tmp_path / "idx"
    assert main(["generate", str(cond_run.path), "--dataset", str(out), "--n", "25", "--format", "idx"]) == 0
    images, _ = read_idx(out / "train-images-idx3-ubyte.gz")
    labels, _ = read_idx(out / "train-labels-idx1-ubyte.gz")
    assert images.shape == (25, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    expected = expected_images(cond_run, balanced_counts(25, list(range(10))), seed=0)
    assert np.array_equal(images, expected[:, 0].numpy())


def test_unconditional_run_writes_one_unlabelled_folder_and_refuses_per_class(uncond_run, tmp_path):
    out = tmp_path / "u"
    with pytest.raises(GankitError, match="unconditional.*--n N"):
        write_dataset(load_generator(str(uncond_run.path)), uncond_run.path, out, per_class=3)
    assert not out.exists()
    assert main(["generate", str(uncond_run.path), "--dataset", str(out), "--n", "7"]) == 0
    assert len(list((out / "train" / "unlabelled").iterdir())) == 7
    data = load_dataset(DataConfig(dataset="folder", path=str(out)))
    assert data.class_names == ["unlabelled"] and len(data) == 7


def test_refuses_a_non_empty_folder_and_leaves_it_alone(cond_run, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["generate", str(cond_run.path), "--dataset", str(out), "--n", "10"]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_folder_names_are_safe_visible_and_unique():
    assert folder_names(["T-shirt/top", ".hidden", "a:b", "Cat", "cat", ""]) == \
        ["T-shirt_top", "hidden", "a_b", "Cat", "cat_2", "class"]


def test_counts_are_balanced_over_trained_classes_only():
    prior = torch.tensor([0.0, 0.5, 0.0, 0.5], dtype=torch.float64)  # data.classes=1,3
    from gankit.commands.synthetic import class_counts

    assert class_counts(prior, 5, None) == {1: 3, 3: 2}
    assert class_counts(prior, None, 4) == {1: 4, 3: 4}
    with pytest.raises(GankitError, match="give one of them"):
        class_counts(prior, 5, 4)
    with pytest.raises(GankitError, match="--n N"):
        class_counts(prior, None, None)
