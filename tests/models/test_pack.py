"""PacGAN's packing (model.pack): D judges stacks of k samples; what it changes, and its rules."""

import dataclasses

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.launch.presets import build_config
from gankit.models import build_models, resolve_auto_model
from gankit.models.pack import Packed


class Recorder(nn.Module):
    def forward(self, x, y=None):
        self.seen, self.y = x, y
        return x.flatten(1).sum(1)


def test_packed_d_sees_k_consecutive_samples_stacked_along_channels():
    inner = Recorder()
    x = torch.arange(6 * 1 * 2 * 2, dtype=torch.float32).view(6, 1, 2, 2)
    logits = Packed(inner, 3)(x, torch.zeros(6, dtype=torch.long))
    assert logits.shape == (2,) and inner.y is None  # one logit per stack; no labels for a stack
    assert torch.equal(inner.seen[0], torch.cat([x[0], x[1], x[2]])) and torch.equal(inner.seen[1], x[3:].flatten(0, 1))
    with pytest.raises(ValueError, match="model.pack=3 stacks 3 images at a time; a batch of 4 does not divide"):
        Packed(inner, 3)(x[:4])


@pytest.mark.parametrize("name", ["dcgan", "resnet"])
def test_the_models_own_d_is_built_for_k_times_the_channels(name):
    cfg = dataclasses.replace(ModelConfig(), name=name, g_width=8, d_width=8, pack=2)
    shape = (3, 32, 32)
    G, D = build_models(cfg, shape, 1)
    first = next(m for m in D.modules() if isinstance(m, nn.Conv2d))
    assert isinstance(D, Packed) and first.in_channels == 6
    fake = G(torch.randn(4, G.z_dim))
    assert fake.shape == (4, *shape) and D(fake).shape == (2,)
    plain_first = next(m for m in build_models(dataclasses.replace(cfg, pack=1), shape, 1)[1].modules()
                       if isinstance(m, nn.Conv2d))
    assert plain_first.in_channels == 3


def test_auto_conditioning_is_off_with_packing():
    cfg = dataclasses.replace(ModelConfig(), conditional="auto", d_width="auto", pack=2)
    resolve_auto_model(cfg, 10)
    assert cfg.conditional is False and cfg.d_width == 32


@pytest.mark.parametrize("sets, says", [
    (["model.pack=3", "train.batch_size=32"], "model.pack=3 stacks 3 images for D; it must divide train.batch_size=32"),
    (["model.pack=2", "model.conditional=true"], "model.pack=2 shows D stacks of 2 samples, which have no one label"),
    (["model.pack=2", "model.d_init=evaluator", "model.conditional=false"], "no pretrained D fits it"),
    (["model.pack=0"], "model.pack=0; must be in [1, 64] (samples D judges together; 1 = off)"),
])
def test_packing_rules_are_one_line(sets, says):
    with pytest.raises(GankitError) as e:
        build_config(sets=sets)
    assert says in str(e.value)


@pytest.mark.parametrize("loss", ["ns", "lsgan", "hinge", "rpgan"])
def test_a_packed_run_trains_with_every_kind_of_loss(loss, tmp_path, fashion_dir):
    """Losses with targets get one target per stack (the bug a first study smoke run found: ns with
    pack 2 had a target per image)."""
    from gankit.cli import main

    argv = ["train", "--out", str(tmp_path), "--data-dir", str(fashion_dir), "--epochs", "1"]
    for s in ("data.limit=128", "model.g_width=8", "model.d_width=8", "train.batch_size=32", "train.max_steps=3",
              "train.progress=false", "train.tensorboard=false", "model.pack=2", f"loss.name={loss}",
              "model.conditional=false", "loss.ms_weight=0"):
        argv += ["--set", s]
    assert main(argv) == 0
    import json

    run = next(tmp_path.glob("0001-*"))
    rows = [json.loads(r) for r in (run / "stats.jsonl").read_text().splitlines()]
    assert rows and all(0.0 <= r["d_acc_real"] <= 1.0 for r in rows)
    assert json.loads((run / "config.json").read_text())["model"]["pack"] == 2
