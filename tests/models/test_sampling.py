"""sampling.py: the label prior, the grids and the EMA sampler draw only the classes a run trained on."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.config import ModelConfig
from gankit.launch.presets import build_config
from gankit.models import build_models
from gankit.models.sampling import class_grid_inputs, grid_inputs, label_prior, sample, trained_classes
from gankit.runs.checkpoint import load_state
from gankit.runs.layout import create_run_dir
from gankit.training.ema import EMA, Sampler
from tiny_runs import resolved_train as train

# cats and dogs of CIFAR-10: 2 of 10 label indices ever see data
CATDOG = torch.tensor([3, 5, 5, 3, 5, 5])


def test_label_prior_is_the_training_frequencies():
    prior = label_prior(CATDOG, 10)
    assert prior.shape == (10,) and prior.sum().item() == pytest.approx(1.0)
    assert prior[3].item() == pytest.approx(2 / 6) and prior[5].item() == pytest.approx(4 / 6)
    assert trained_classes(prior).tolist() == [3, 5]


def test_grids_cycle_over_trained_classes_only():
    prior = label_prior(CATDOG, 10)
    z, y = grid_inputs(8, 6, seed=0, prior=prior, conditional=True)
    assert y.tolist() == [3, 5, 3, 5, 3, 5] and z.shape == (6, 8)
    assert grid_inputs(8, 6, 0, prior, conditional=False)[1] is None
    zc, yc = class_grid_inputs(8, per_class=4, seed=0, prior=prior)
    assert yc.tolist() == [3] * 4 + [5] * 4 and torch.equal(zc[:4], zc[4:])  # same z in every row


def test_sample_draws_labels_at_the_prior_frequencies():
    G, _ = build_models(ModelConfig(conditional=True, g_width=8, d_width=8), (1, 28, 28), 10)
    x, y = sample(G.eval(), 600, seed=1, prior=label_prior(CATDOG, 10))
    assert x.shape == (600, 1, 28, 28)
    assert set(y.tolist()) == {3, 5}
    assert (y == 5).float().mean().item() == pytest.approx(2 / 3, abs=0.06)
    assert torch.equal(sample(G, 600, seed=1, prior=label_prior(CATDOG, 10))[1], y)  # reproducible


def test_ema_batch_norm_reestimation_sees_only_trained_classes():
    G, _ = build_models(ModelConfig(conditional=True, g_width=8, d_width=8), (1, 28, 28), 10)
    ema = EMA(G, 0.9)
    seen = []
    ema.model.register_forward_pre_hook(lambda m, args: seen.append(args[1].clone()))
    sampler = Sampler(G, ema, label_prior(CATDOG, 10), batch_size=16, seed=5, device="cpu")
    assert sampler(step=3) is ema.model
    assert seen and set(torch.cat(seen).tolist()) == {3, 5}
    n = len(seen)
    sampler(step=3)  # once per step
    assert len(seen) == n
    sampler(step=4)
    assert len(seen) == 2 * n


def test_class_filtered_conditional_run_samples_only_its_classes(tmp_path, fashion_dir, capsys):
    cfg = build_config(sets=["data.classes=Trouser,Bag", "data.limit=256", "model.conditional=true",
                             "model.g_width=8", "model.d_width=8", "train.batch_size=32", "train.epochs=1",
                             "train.progress=false", "train.tensorboard=false", "train.ema=true"])
    run = create_run_dir(tmp_path / "runs", "cond")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    prior = load_state(run.last_checkpoint)["label_prior"]
    assert trained_classes(prior).tolist() == [1, 8]
    # the per-class grid has one row per trained class, named in the event
    event = [e for e in run.events() if e["event"] == "samples"][-1]
    assert event["class_rows"] == ["Trouser", "Bag"]
    assert Image.open(run.path / event["classes"]).size[1] < 3 * 28
    npz = tmp_path / "s.npz"
    assert main(["generate", str(run.path), "--n", "200", "--npz", str(npz)]) == 0
    assert set(np.load(npz)["labels"].tolist()) == {1, 8}
    capsys.readouterr()
    assert main(["generate", str(run.path), "--n", "4", "--grid", str(tmp_path / "g.png"), "--class", "Sneaker"]) == 2
    err = capsys.readouterr().err
    assert "never saw this class" in err and "Trouser, Bag" in err and not (tmp_path / "g.png").exists()
    assert json.loads(run.config_file.read_text())["data"]["classes"] == ["Trouser", "Bag"]
