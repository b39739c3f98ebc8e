"""The shipped evaluators: cards match files, accuracy on real data, input conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.evaluator import (
    Evaluator,
    evaluator_for,
    evaluator_key,
    file_sha256,
    load_evaluator,
    save_evaluator,
)
from gankit.metrics.evaluator_train import _augment, accuracy
from gankit.models.evaluator_net import EvalNet

WEIGHTS = Path(__file__).resolve().parents[2] / "src" / "gankit" / "metrics" / "weights"


def card(key: str) -> dict:
    return json.loads((WEIGHTS / f"{key}.json").read_text())


@pytest.mark.parametrize("key", ["fashion-mnist", "mnist", "cifar10-catdog"])
def test_shipped_card_matches_its_weights(key):
    c = card(key)
    path = WEIGHTS / f"{key}.safetensors"
    assert file_sha256(path) == c["sha256"]
    assert path.stat().st_size < 2 * 1024 * 1024
    assert c["command"].startswith(f"gankit evaluator train {key}") and c["split"] and c["how_trained"]
    # a shipped card names where its data lay, not the training machine's paths
    assert not any(root in json.dumps(c) for root in ("/work/", "/home/", "/root/", "/tmp/", "C:\\"))


def test_fashion_mnist_evaluator_meets_its_recorded_accuracy(fashion_test):
    ev = evaluator_for("fashion-mnist", fashion_test.class_names)
    recorded = ev.card["test_accuracy"]
    assert recorded >= 0.92  # the bar
    assert accuracy(ev.net, fashion_test.images, fashion_test.labels) >= recorded - 0.005


def test_mnist_evaluator_meets_its_recorded_accuracy_on_held_out_digits(mnist_test):
    data = mnist_test
    ev = evaluator_for("mnist", data.class_names)
    # the card says: trained on the first 8,000 test digits, measured on the last 2,000
    assert "last 2,000" in ev.card["split"]
    assert accuracy(ev.net, data.images[8000:], data.labels[8000:]) >= ev.card["test_accuracy"] - 0.005


def test_catdog_evaluator_meets_its_recorded_accuracy(catdog_test):
    data = catdog_test
    ev = evaluator_for("folder", data.class_names)
    assert ev is not None and ev.key == "cifar10-catdog"
    assert accuracy(ev.net, data.images, data.labels) >= ev.card["test_accuracy"] - 0.005


def test_evaluator_choice():
    assert evaluator_key("fashion-mnist", []) == "fashion-mnist"
    assert evaluator_key("cifar10", ["dog", "cat"]) == "cifar10-catdog"
    assert evaluator_key("folder", ["Cat", "Dog"]) == "cifar10-catdog"
    assert evaluator_key("folder", ["apples", "pears"]) is None
    # the full 10-class CIFAR evaluator is not shipped (no CIFAR-10 data to train it here)
    assert evaluator_for("cifar10", [str(i) for i in range(10)]) is None


def test_prepare_converts_channels_and_size():
    ev = Evaluator(EvalNet(1, 28, 10, [8, 8]), {"key": "t", "sha256": "0" * 64, "class_names": list("abcdefghij")})
    rgb = torch.full((2, 3, 64, 64), 255, dtype=torch.uint8)
    x = ev.prepare(rgb)
    assert x.shape == (2, 1, 28, 28)
    assert torch.allclose(x, torch.ones_like(x), atol=1e-5)  # white stays white: luma weights sum to 1
    f, logits = ev.embed(rgb)
    assert f.shape == (2, 128) and logits.shape == (2, 10)


def test_augment_shifts_by_at_most_two_pixels():
    x = torch.full((64, 1, 8, 8), -1.0)
    x[:, :, 4, 4] = 1.0  # one bright pixel
    out = _augment(x, torch.Generator().manual_seed(0), hflip=False)
    pos = (out[:, 0] == 1.0).nonzero()[:, 1:]
    assert out.shape == x.shape and len(pos) == 64
    assert (pos - 4).abs().max() <= 2 and len({tuple(p.tolist()) for p in pos}) > 5


def test_saved_file_is_reproducible_and_a_mismatched_sha_is_refused(tmp_path):
    torch.manual_seed(0)
    net = EvalNet(1, 8, 3, [4])
    sha1 = save_evaluator(net, tmp_path / "a.safetensors", {"key": "t"})
    sha2 = save_evaluator(net, tmp_path / "b.safetensors", {"key": "t"})
    assert sha1 == sha2 == file_sha256(tmp_path / "a.safetensors")
    c = {"key": "t", "sha256": sha1, "class_names": ["x", "y", "z"], "arch": net.arch}
    (tmp_path / "a.json").write_text(json.dumps(c))
    ev = load_evaluator(tmp_path / "a.safetensors", tmp_path / "a.json")
    x = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    assert torch.equal(ev.embed(x)[1], net.eval()(ev.prepare(x))[1])
    (tmp_path / "a.json").write_text(json.dumps({**c, "sha256": "0" * 64}))
    with pytest.raises(GankitError, match="does not match its card"):
        load_evaluator(tmp_path / "a.safetensors", tmp_path / "a.json")
