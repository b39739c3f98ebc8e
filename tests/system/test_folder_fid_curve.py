"""A user's own folder trains with an FID curve and a best checkpoint (issue: any images measured
honestly): an unlabelled one (the shared emoji-64.zip, 64 px RGB) gets a self-supervised
evaluator, a labelled one a classifier, each made before step 0 through `gankit train`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from gankit.metrics import evaluator_folder as ef
from gankit.runs.layout import read_jsonl

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=32", "train.epochs=2",
        "train.eval_every=1", "train.eval_n=64", "train.progress=false", "train.tensorboard=false"]


def train_folder(tmp_path, capsys, sets: list[str]):
    assert main(["train", "--out", str(tmp_path / "runs"), *[x for s in TINY + sets for x in ("--set", s)]]) == 0
    (run,) = [p for p in (tmp_path / "runs").iterdir() if (p / "config.json").is_file()]
    err = capsys.readouterr().err
    return run, err


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(ef, "SSL_STEPS", 10)
    monkeypatch.setattr(ef, "CLASSIFIER_BATCHES", 10)


def test_emoji_64_trains_with_an_fid_curve_and_a_best_checkpoint(shared_datasets, tmp_path, capsys):
    run, err = train_folder(tmp_path, capsys, ["data.dataset=folder", f"data.path={shared_datasets / 'emoji-64.zip'}",
                                               "data.limit=128"])
    assert "training a ssl on 3525 images of folder:emoji-64.zip at 32 px (downscaled from 64 px)" in err
    evals = read_jsonl(run / "evals.jsonl")
    assert [r["epoch"] for r in evals] == [1.0, 2.0]
    assert all(r["fid"] > 0 and r["floor_fid"] >= 0 and r["reference_size"] == 3916 for r in evals)
    assert len({r["evaluator_sha256"] for r in evals}) == 1 and (run / "checkpoints" / "best.safetensors").is_file()
    assert json.loads((run / "config.json").read_text())["model"]["conditional"] is False


def test_a_labelled_folder_gets_a_classifier_and_its_fid_curve(tmp_path, capsys):
    g = np.random.default_rng(0)
    for name, axis in (("rows", 0), ("cols", 1)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(120):
            wave = np.repeat(((np.arange(28) // g.integers(2, 6)) % 2 * 255).astype(np.uint8)[:, None], 28, 1)
            Image.fromarray(wave if axis == 0 else wave.T).save(tmp_path / "data" / name / f"{i}.png")
    run, err = train_folder(tmp_path, capsys, ["data.dataset=folder", f"data.path={tmp_path / 'data'}"])
    assert "training a classifier on 190 images" in err
    evals = read_jsonl(run / "evals.jsonl")
    assert len(evals) == 2 and all("classes_covered" in r and r["fid"] > 0 for r in evals)
    assert (run / "checkpoints" / "best.safetensors").is_file()
