"""Inception-v3 when the user has the weights (metrics/inception.py): the whole path runs on a
randomly initialised extractor saved as the weights file (nothing is downloaded), and a missing
file is one line naming where to put it."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.metrics  # noqa: F401  (registers torch-fidelity without torchvision first)
from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics.inception import WEIGHTS_NAME, InceptionEmbedder

fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A randomly initialised FID Inception's state dict, saved as the weights file is."""
    with pytest.MonkeyPatch.context() as mp:  # build the network without loading (or fetching) weights
        mp.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, strict=True: None)
        mp.setattr(fidelity.torch, "load", lambda *a, **k: {})
        torch.manual_seed(0)
        net = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], "unused")
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_NAME
    torch.save(net.state_dict(), path)
    return path


def test_the_extractor_embeds_gray_and_colour_images(weights):
    emb = InceptionEmbedder(weights)
    feats, logits = emb.embed(torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8))
    assert feats.shape == (3, 2048) and logits.shape == (3, 1008) and torch.isfinite(feats).all()
    assert emb.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()


def write_images(folder, n, seed):
    folder.mkdir()
    g = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(g.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_evaluate_images_with_inception_writes_the_paper_comparable_rows(weights, tmp_path, capsys):
    ref, mine = write_images(tmp_path / "ref", 24, 0), write_images(tmp_path / "mine", 12, 1)
    out = tmp_path / "m.json"
    assert main(["evaluate", "--images", str(mine), "--against", str(ref), "--inception",
                 "--inception-weights", str(weights), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "Inception-v3 (paper-comparable), n=12" in table
    m = json.loads(out.read_text())
    assert m["inception_evaluator_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    for key in ("inception_fid", "inception_kid_mean", "inception_cs", "floor_inception_fid"):
        assert np.isfinite(m[key]), key


def test_a_missing_weights_file_is_one_line_naming_where_it_goes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    ref = write_images(tmp_path / "ref", 4, 0)
    assert main(["evaluate", "--images", str(ref), "--against", str(ref), "--inception"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and WEIGHTS_NAME in err[0] and "inception" in err[0] and "--inception-weights" in err[0]
    assert main(["evaluate", "--images", str(ref), "--against", str(ref), "--inception",
                 "--inception-weights", str(tmp_path / "nope.pth")]) == 2
    assert f"--inception-weights {tmp_path / 'nope.pth'}: no such file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref"]  # nothing written


def test_a_corrupt_weights_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / WEIGHTS_NAME
    bad.write_bytes(b"not a pickle at all")
    ref = write_images(tmp_path / "ref", 4, 0)
    assert main(["evaluate", "--images", str(ref), "--against", str(ref), "--inception",
                 "--inception-weights", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad}: not a plain weights file" in err[0] and "refusing to load it" in err[0]


@pytest.mark.parametrize("content, says", [
    (lambda w: torch.zeros(3), "holds Tensor, not a network's weights"),
    (lambda w: [torch.zeros(3)], "holds list, not a network's weights"),
    (lambda w: {"layer.weight": torch.zeros(2, 2)}, "holds the weights of another network (1 tensors, no "
                                                    "Conv2d_1a_3x3.conv.weight, fc.weight)"),
])
def test_a_weights_file_that_is_not_the_fid_inception_is_one_line(content, says, weights, tmp_path):
    bad = tmp_path / WEIGHTS_NAME
    torch.save(content(weights), bad)
    with pytest.raises(GankitError) as e:
        InceptionEmbedder(bad)
    assert str(e.value) == f"{bad}: {says}; put torch-fidelity's {WEIGHTS_NAME} there or remove the file"


def test_weights_of_the_right_names_and_other_shapes_are_one_short_line(weights, tmp_path):
    state = torch.load(weights, weights_only=True)
    state["fc.weight"] = torch.zeros(3, 3)
    bad = tmp_path / WEIGHTS_NAME
    torch.save(state, bad)
    with pytest.raises(GankitError, match="its layers do not fit torch-fidelity's Inception") as e:
        InceptionEmbedder(bad)
    assert "\n" not in str(e.value) and len(str(e.value)) < 500
