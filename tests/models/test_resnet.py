"""resnet (SNGAN blocks): shapes at 28/32/64 px, SNGAN's CIFAR-10 layer table and parameter
counts, conditional batch norm and the projection D, spectral norm, its config rules, and a
tiny real run through the sngan preset (EMA with conditional BN re-estimated, generate)."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from gankit.cli import main
from gankit.config import ModelConfig
from gankit.launch.presets import build_config
from gankit.models import build_models, check_model
from gankit.models.resnet import CondBatchNorm2d, DownBlock, UpBlock
from gankit.runs.layout import create_run_dir
from tiny_runs import resolved_train as train

SMALL = dict(name="resnet", g_width=8, d_width=8, z_dim=16)


def _build(shape=(3, 32, 32), classes=1, **kw):
    torch.manual_seed(0)
    return build_models(ModelConfig(**{**SMALL, **kw}), shape, classes)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_and_output_range(shape, conditional):
    G, D = _build(shape, 3 if conditional else 1, conditional=conditional)
    y = torch.tensor([0, 1, 2, 0]) if conditional else None
    x = G(torch.randn(4, 16), y)
    assert x.shape == (4, *shape) and x.min() >= -1 and x.max() <= 1
    assert D(x, y).shape == (4,)


def test_sngan_cifar10_layer_table_and_parameter_counts():
    # SNGAN's CIFAR-10 ResNet (Miyato et al. 2018, table 4): G 4x4x256 -> three up-blocks of 256
    # -> BN, ReLU, conv3x3 to 3; D an optimised down-block and a down-block of 128 to 8x8, two
    # blocks at 8x8, ReLU, sum pooling, linear.  With its z of 128: 4.28M and 1.05M parameters
    # (mimicry's SNGAN-32 lists 4.3M and 1.0M).
    cfg = build_config(preset="sngan", sets=["model.z_dim=128"]).model
    G, D = build_models(cfg, (3, 32, 32), 1)
    assert G.fc.out_features == 4 * 4 * 256
    ups = [m for m in G.modules() if isinstance(m, UpBlock)]
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in ups] == [(256, 256)] * 3
    assert (G.conv_out.in_channels, G.conv_out.out_channels, G.conv_out.kernel_size) == (256, 3, (3, 3))
    downs = [m for m in D.modules() if isinstance(m, DownBlock)]
    assert [(b.conv1.in_channels, b.conv2.out_channels, b.down) for b in downs] == [
        (3, 128, True), (128, 128, True), (128, 128, False), (128, 128, False)]
    assert [b.skip is None for b in downs] == [False, False, True, True]  # identity shortcuts at 8x8
    assert D.out.in_features == 128
    n_g = sum(p.numel() for p in G.parameters())
    n_d = sum(p.numel() for p in D.parameters())
    assert (n_g, n_d) == (4_276_739, 1_053_825)
    # spectral norm on every D conv and the linear, none in G
    d_layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert d_layers and all(hasattr(m, "parametrizations") for m in d_layers)
    assert not any(hasattr(m, "parametrizations") for m in G.modules())


def test_64px_halves_the_top_block_and_28px_starts_at_7x7():
    G, D = _build((3, 64, 64), g_width=16)
    ups = [m for m in G.modules() if isinstance(m, UpBlock)]
    assert [b.conv2.out_channels for b in ups] == [16, 16, 16, 8]  # 8, 16, 32 px at g_width; 64 px at half
    assert [b.down for b in D.modules() if isinstance(b, DownBlock)] == [True, True, True, False, False]
    G, D = _build((1, 28, 28))
    assert G.b == 7 and len(G.blocks) == 2
    assert G(torch.randn(2, 16)).shape == (2, 1, 28, 28)


def test_conditional_bn_gives_each_class_its_own_gain_and_bias():
    G, D = _build(classes=3, conditional=True)
    cbns = [m for m in G.modules() if isinstance(m, CondBatchNorm2d)]
    assert cbns and all(m.gain.num_embeddings == 3 and not m.bn.affine for m in cbns)
    # at init every class is plain BN: the label changes nothing until the tables learn
    G.eval()
    z = torch.randn(4, 16)
    assert torch.allclose(G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.ones(4, dtype=torch.long)))
    with torch.no_grad():
        cbns[0].gain.weight[1].mul_(3.0)
    assert not torch.allclose(G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.ones(4, dtype=torch.long)))
    with pytest.raises(ValueError, match="labels"):
        G(z)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        D.embed.weight.normal_()
    assert not torch.allclose(D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long)))
    # an unconditional G keeps ordinary affine BN
    G, _ = _build()
    assert all(m.bn.affine and m.gain is None for m in G.modules() if isinstance(m, CondBatchNorm2d))


def test_the_residual_shortcut_carries_the_input():
    # with the residual path's last conv zeroed, an up-block is its shortcut alone
    block = UpBlock(4, 6, 0, nn.ReLU())
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    x = torch.randn(2, 4, 5, 5)
    up = nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
    assert torch.allclose(block(x, None), block.skip(up), atol=1e-6)


def test_activations_follow_the_config():
    G, D = _build(g_act="leaky_relu", d_act="leaky_relu")
    assert isinstance(G.act, nn.LeakyReLU) and isinstance(D.act, nn.LeakyReLU)
    G, D = _build(d_act="relu")
    assert isinstance(G.act, nn.ReLU) and isinstance(D.act, nn.ReLU)


def test_switches_resnet_has_not_are_refused():
    plain = ModelConfig(name="resnet")
    assert check_model(plain) is None
    for key, value in (("d_dropout", 0.3), ("mbstd", True), ("minibatch_disc", 4), ("d_norm", "batch"),
                       ("g_norm", "none")):
        problem = check_model(dataclasses.replace(plain, **{key: value}))
        assert problem and f"model.{key}" in problem and "resnet" in problem
    assert "freeze" in check_model(dataclasses.replace(plain, freeze_d_layers=1))


def test_tiny_conditional_run_with_ema_trains_and_generates(tmp_path, fashion_dir, capsys):
    # conditional BN under EMA: the averaged G's statistics are re-estimated with labels
    sets = ["data.limit=96", "model.g_width=8", "model.d_width=8", "model.conditional=true", "train.ema=true",
            "train.max_steps=4", "train.n_critic=2", "train.batch_size=16", "train.log_every=1",
            "train.progress=false", "train.tensorboard=false", "data.dataset=fashion-mnist"]
    cfg = build_config(preset="sngan", sets=sets)
    run = create_run_dir(tmp_path / "runs", "sn")
    run.write_config(cfg)
    summary = train(cfg, run, data_dir=str(fashion_dir))
    assert summary["step"] == 4
    rows = run.stats()
    assert all(np.isfinite(r["d_loss"]) for r in rows)
    g_losses = [r["g_loss"] for r in rows if "g_loss" in r]  # rows of D-only steps have none
    assert g_losses and all(np.isfinite(g_losses))
    out = tmp_path / "g.npz"
    assert main(["generate", str(run.path), "--n", "6", "--npz", str(out)]) == 0
    images = np.load(out)["images"]
    assert images.shape == (6, 28, 28, 1) and images.std() > 0
    capsys.readouterr()
