"""stylegan-lite: shapes, modulation/demodulation, noise inputs, style mixing, truncation and
w_avg, the checkpoint round trip, and a tiny real-data run with `generate --truncation`."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_runs import whole_and_resumed

from gankit.launch.start import resolve
from gankit.cli import main
from gankit.config import ModelConfig
from gankit.data import ImageData
from gankit.errors import GankitError
from gankit.launch.presets import build_config
from gankit.models import MODELS, build_models
from gankit.models.stylegan_lite import ModulatedConv, start_resolution
from gankit.runs.layout import create_run_dir
from gankit.runs.load import load_run
from tiny_runs import resolved_train as train
from gankit.training.state import TrainingState

SMALL = dict(name="stylegan-lite", z_dim=16, w_dim=16, mapping_layers=2, g_width=4, d_width=4)


def _build(shape=(1, 28, 28), classes=1, **kw):
    torch.manual_seed(0)
    return MODELS["stylegan-lite"](ModelConfig(**{**SMALL, **kw}), shape, classes)


def _noise_on(G, value=0.5):
    with torch.no_grad():
        for layer in G.layers:
            layer.noise_strength.fill_(value)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)])
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_for_28_32_64_px_1_and_3_channels(shape, conditional):
    G, D = _build(shape, 10 if conditional else 1, conditional=conditional, mbstd=True)
    y = torch.arange(4) % 10 if conditional else None
    for training in (True, False):
        G.train(training)
        x = G(torch.randn(4, 16), y)
        assert x.shape == (4, *shape)
        assert x.min() >= -1 and x.max() <= 1  # tanh: the data range
        assert D(x, y).shape == (4,)
    assert (G.z_dim, G.num_classes, G.conditional) == (16, 10 if conditional else 1, conditional)
    if conditional:
        with pytest.raises(ValueError):
            G(torch.randn(4, 16))


def test_start_resolution_and_stages():
    assert start_resolution(28) == (7, 2) and start_resolution(32) == (4, 3) and start_resolution(64) == (4, 4)
    G, _ = _build((1, 28, 28))
    assert G.const.shape[-1] == 7 and G.num_ws == 6  # 7 -> 14 -> 28: 5 convs, toRGB shares w
    assert [layer.noise_const.shape[-1] for layer in G.layers] == [7, 14, 14, 28, 28]
    with pytest.raises(GankitError, match="stylegan-lite cannot build a 36px"):
        _build((1, 36, 36))


def test_demodulated_weights_have_unit_norm_and_the_fast_path_equals_the_grouped_conv():
    torch.manual_seed(0)
    conv = ModulatedConv(6, 5, 3, w_dim=8)
    with torch.no_grad():
        conv.affine.weight.normal_()  # styles far from 1, so the check means something
    w, x = torch.randn(4, 8), torch.randn(4, 6, 9, 9)
    wt = conv.modulated_weight(w)  # [N, O, I, k, k]
    norms = wt.flatten(2).norm(dim=2)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    grouped = F.conv2d(x.reshape(1, 24, 9, 9), wt.reshape(20, 6, 3, 3), padding=1, groups=4).reshape(4, 5, 9, 9)
    assert torch.allclose(conv(x, w), grouped, atol=1e-5)
    # demodulation makes the output independent of the style's overall scale
    s = conv.styles(w)
    plain = F.conv2d(x * (3 * s)[:, :, None, None], conv.weight, padding=1) * conv.demod_coefs(3 * s)[:, :, None, None]
    assert torch.allclose(plain, conv(x, w), atol=1e-4)


def test_changing_w_changes_the_output():
    G, _ = _build()
    G.eval()
    z = torch.randn(2, 16)
    ws = G.ws(z)
    base = G.synthesis(ws)
    for i in (0, G.num_ws - 1):  # the first conv and the last toRGB both take their own w
        other = ws.clone()
        other[:, i] = torch.randn(2, 16) * 3
        assert not torch.allclose(G.synthesis(other), base)


def test_noise_inputs_act_only_with_a_nonzero_strength():
    G, _ = _build()
    G.eval()
    G.noise_mode = "random"
    z = torch.randn(3, 16)
    assert torch.equal(G(z), G(z))  # strength 0 at initialisation: noise draws change nothing
    _noise_on(G)
    assert not torch.allclose(G(z), G(z))
    G.noise_mode = "none"
    assert torch.equal(G(z), G(z))
    G.noise_mode = "auto"  # eval: the layers' constant noise, the same every call
    a = G(z)
    assert torch.equal(a, G(z))
    G.noise_mode = "none"
    assert not torch.allclose(a, G(z))
    G.noise_mode = "auto"
    G.train()  # training: fresh noise per call (style mixing off, so only the noise differs)
    G.style_mixing = 0.0
    assert not torch.allclose(G(z), G(z))


def test_style_mixing_only_in_training_mode():
    G, _ = _build(style_mixing=1.0)
    z = torch.randn(64, 16)
    G.eval()
    ws = G.ws(z)
    assert torch.equal(ws, G.mapping_net(z).unsqueeze(1).expand_as(ws))  # one w for every layer
    G.train()
    ws = G.ws(z)
    w1 = G.mapping_net(z)
    first = torch.isclose(ws, w1[:, None, :]).all(dim=2)  # [N, num_ws]: the layers that kept z's w
    assert first[:, 0].all()  # the crossover is never at layer 0
    assert not first[:, -1].any()  # with p=1 every sample mixes: the last layer takes the second w
    cut = first.sum(dim=1)
    assert torch.equal(first, torch.arange(G.num_ws)[None, :] < cut[:, None])  # one crossover per sample
    assert len(set(cut.tolist())) > 1  # random crossovers
    G2, _ = _build(style_mixing=0.0)
    G2.train()
    assert torch.equal(G2.ws(z), G2.mapping_net(z).unsqueeze(1).expand_as(G2.ws(z)))


def test_truncation_psi_zero_gives_one_image_and_psi_one_is_the_plain_g():
    G, _ = _build(style_mixing=0.0)
    G.train()
    for _ in range(3):
        G(torch.randn(32, 16))  # some w_avg
    G.eval()
    _noise_on(G)  # eval noise is the constant buffers: the same for every z
    z = torch.randn(4, 16)
    x0 = G(z, psi=0.0)
    assert torch.allclose(x0, x0[:1].expand_as(x0), atol=1e-6)
    plain = G(z)
    assert not torch.allclose(plain, plain[:1].expand_as(plain))
    assert torch.equal(G(z, psi=1.0), plain)
    G.truncation_psi = 0.0
    assert torch.equal(G(z), x0)  # the attribute is what sample() and generate use
    G.truncation_psi = 0.5
    half = G.ws(z)
    G.truncation_psi = 1.0
    assert torch.allclose(half, 0.5 * (G.ws(z) + G.w_avg[0]), atol=1e-6)


def test_w_avg_updates_only_in_training_and_per_class_when_conditional():
    G, _ = _build()
    z = torch.randn(32, 16)
    G.eval()
    G(z)
    assert torch.equal(G.w_avg, torch.zeros_like(G.w_avg)) and G.w_avg_n.sum() == 0
    G.train()
    G(z)
    # the first update is the batch mean (a running mean before the EMA takes over)
    assert torch.allclose(G.w_avg[0], G.mapping_net(z).mean(0), atol=1e-6)
    before = G.w_avg.clone()
    G(torch.randn(32, 16))
    assert not torch.equal(G.w_avg, before) and G.w_avg_n.item() == 2
    C, _ = _build(classes=3, conditional=True)
    C.train()
    y = torch.tensor([0, 0, 2, 2])
    z = torch.randn(4, 16)
    C(z, y)
    w = C.mapping_net(z, y)
    assert C.w_avg.shape == (3, 16) and C.w_avg_n.tolist() == [1, 0, 1]
    assert torch.allclose(C.w_avg[0], w[:2].mean(0), atol=1e-6) and torch.equal(C.w_avg[1], torch.zeros(16))
    C.eval()
    x = C(torch.randn(2, 16), torch.tensor([2, 2]), psi=0.0)  # truncates toward class 2's own mean
    assert torch.allclose(x[0], x[1], atol=1e-6)


def test_checkpoint_round_trip_through_the_training_state(tmp_path):
    sets = [f"model.{k}={v}" for k, v in SMALL.items()] + ["train.ema=true", "model.conditional=true"]
    cfg = build_config(sets=sets)
    n = 64
    data = ImageData(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8), torch.arange(n) % 3,
                     ["a", "b", "c"], "synthetic")
    a = TrainingState.create(resolve(cfg, data), data, "cpu", total_steps=10)
    a.G.train()
    _noise_on(a.G, 0.3)
    a.G(torch.randn(8, 16), torch.arange(8) % 3)  # a w_avg that differs from a fresh G's
    a.ema.update(a.G, step=1)
    a.save(tmp_path / "s.safetensors")
    b = TrainingState.create(resolve(build_config(sets=sets + ["train.seed=5"]), data), data, "cpu", total_steps=10)
    b.load(tmp_path / "s.safetensors")
    z, y = torch.randn(5, 16), torch.tensor([0, 1, 2, 0, 1])
    for ga, gb in ((a.G, b.G), (a.ema.model, b.ema.model)):
        ga.eval(), gb.eval()
        assert torch.equal(ga.w_avg, gb.w_avg)
        assert torch.equal(ga(z, y), gb(z, y)) and torch.equal(ga(z, y, psi=0.5), gb(z, y, psi=0.5))
    assert torch.equal(a.D(a.G(z, y), y), b.D(b.G(z, y), y))


def test_config_keys_are_validated():
    with pytest.raises(GankitError, match="style_mixing"):
        build_config(sets=["model.name=stylegan-lite", "model.style_mixing=1.5"])
    with pytest.raises(GankitError, match="mapping_layers"):
        build_config(sets=["model.name=stylegan-lite", "model.mapping_layers=0"])
    with pytest.raises(GankitError, match="g_spectral_norm"):
        build_config(sets=["model.name=stylegan-lite", "model.g_spectral_norm=true"])
    cfg = build_config(preset="stylegan-lite")
    assert cfg.model.name == "stylegan-lite" and cfg.train.ema and cfg.train.batch_size == 32
    G, D = build_models(dataclasses.replace(cfg.model, d_spectral_norm=True), (1, 28, 28), 1)
    assert hasattr(D.out, "parametrizations")  # the dcgan D's switches apply


TINY = ["data.limit=128", "model.g_width=4", "model.d_width=4", "model.w_dim=16", "model.z_dim=16",
        "train.batch_size=32", "train.progress=false", "train.tensorboard=false", "train.log_every=1"]


def test_tiny_real_run_trains_and_generates_with_truncation(tmp_path, fashion_dir, capsys):
    cfg = build_config(preset="stylegan-lite", sets=TINY + ["train.max_steps=3"])
    run = create_run_dir(tmp_path / "runs", "sg")
    run.write_config(cfg)
    summary = train(cfg, run, data_dir=str(fashion_dir))
    assert summary["step"] == 3
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in run.stats())
    loaded = load_run(run.path)
    assert loaded.G.w_avg_n.item() > 0  # the average the truncation needs came with the checkpoint
    outs = {}
    for psi in ("1", "0.5", "0"):
        out = tmp_path / f"psi{psi}.npz"
        assert main(["generate", str(run.path), "--n", "6", "--truncation", psi, "--npz", str(out)]) == 0
        outs[psi] = np.load(out)["images"]
        assert outs[psi].shape == (6, 28, 28, 1)
    plain = tmp_path / "plain.npz"
    assert main(["generate", str(run.path), "--n", "6", "--npz", str(plain)]) == 0
    assert np.array_equal(np.load(plain)["images"], outs["1"])  # psi 1 is no truncation
    assert not np.array_equal(outs["0.5"], outs["1"])
    assert (outs["0"] == outs["0"][:1]).all()  # psi 0: every z gives the average image
    capsys.readouterr()


def test_resume_of_a_stylegan_run_is_bit_identical(tmp_path, fashion_dir):
    # noise inputs and style mixing draw from torch's RNG in training; sampling grids at
    # epoch ends must not (eval mode uses the constant noise), or resume would diverge
    sets = TINY + ["train.checkpoint_every=1"]
    a, b = whole_and_resumed(tmp_path / "r", sets, str(fashion_dir), preset="stylegan-lite")
    for k, v in a.G.state_dict().items():
        assert torch.equal(v, b.G.state_dict()[k]), k


def test_generate_truncation_needs_a_style_based_model(tmp_path, fashion_dir, capsys):
    cfg = build_config(sets=["data.limit=64", "model.g_width=4", "model.d_width=4", "train.max_steps=1",
                             "train.progress=false", "train.tensorboard=false"])
    run = create_run_dir(tmp_path / "runs", "dc")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    capsys.readouterr()
    assert main(["generate", str(run.path), "--truncation", "0.5", "--npz", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "--truncation needs a style-based model (model.name=stylegan-lite)" in err and "model.name=dcgan" in err
