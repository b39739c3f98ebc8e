"""ProGAN: shapes at every stage, fade-in, what D sees, equalised lr, pixel norm, and the
schedule as a pure function of the step (also across a state_dict round trip)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import Config, DataConfig, ModelConfig, set_value
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.launch.validate import check
from gankit.models import MODELS
from gankit.models.layers import EqualizedConv2d, EqualizedLinear, pixel_norm
from gankit.models.progan import build_progan, schedule
from gankit.util.imageio import to_float

S = 10  # grow_steps in these tests: stage k from step 10k, faded in over 5 steps


def models(shape=(1, 28, 28), conditional=False, num_classes=10, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(**{"name": "progan", "g_width": 4, "d_width": 4, "z_dim": 16, "grow_steps": S, "mbstd": True,
                         "g_act": "leaky_relu", "conditional": conditional, **kw})
    return build_progan(cfg, shape, num_classes)


def inputs(G, n=8):
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(1))
    y = torch.arange(n) % G.num_classes if G.conditional else None
    return z, y


def at(step, *nets):
    for net in nets:
        net.set_progress(step)


def test_registered():
    assert MODELS["progan"].build is build_progan


@pytest.mark.parametrize("size, resolutions", [(28, [7, 14, 28]), (32, [4, 8, 16, 32])])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("conditional", [False, True])
def test_full_size_output_at_every_stage(size, resolutions, channels, conditional):
    G, D = models((channels, size, size), conditional)
    z, y = inputs(G)
    for k, res in enumerate(resolutions):
        for step in ([k * S, k * S + 2] if k else [0]) + [k * S + S - 1]:  # fade start, mid-fade, stable
            at(step, G, D)
            assert (G.resolution, D.resolution) == (res, res)
            x = G(z, y)
            assert x.shape == (8, channels, size, size)
            assert x.min() >= -1 and x.max() <= 1  # tanh, and a fade blends two images in range
            # G's image is its current resolution upsampled nearest: constant on f x f blocks
            f = size // res
            assert torch.allclose(F.interpolate(F.avg_pool2d(x, f), scale_factor=f, mode="nearest"), x, atol=1e-6)
            assert D(x, y).shape == (8,)
    at(10**6, G, D)  # the last stage stays
    assert G.resolution == size and G.alpha == 1.0


def test_schedule_values():
    assert [schedule(s, S, 3) for s in (0, 9, 10, 12, 15, 19, 20, 25, 99)] == [
        (0, 1.0), (0, 1.0), (1, 0.0), (1, 0.4), (1, 1.0), (1, 1.0), (2, 0.0), (2, 1.0), (2, 1.0)]
    assert schedule(0, 0, 4) == (3, 1.0)  # grow_steps=0: full resolution from the start
    G, D = models(grow_steps=0)
    assert G.resolution == D.resolution == 28


@pytest.mark.parametrize("k", [1, 2])
def test_fade_in_starts_at_the_previous_stage_and_ends_with_the_new_block(k):
    G, D = models()
    z, _ = inputs(G)
    with torch.no_grad():
        at(k * S - 1, G, D)  # the previous stage, stable
        prev_img = G(z)
        x = torch.rand(8, 1, 28, 28) * 2 - 1
        prev_logit = D(x)
        at(k * S, G, D)  # alpha = 0: the upsampled previous toRGB path alone
        assert G.alpha == 0.0 and G.resolution == 7 * 2**k
        assert torch.allclose(G(z), prev_img, atol=1e-6)
        assert torch.allclose(D(x), prev_logit, atol=1e-5)
        at(k * S + S // 2, G, D)  # alpha = 1: the new block alone
        assert G.alpha == 1.0
        img, logit = G(z), D(x)
        mid = copy.deepcopy((G, D))
        for net, old in ((G, G.to_rgb[k - 1]), (D, D.from_rgb[k - 1])):
            old.weight.add_(1.0)  # the previous stage's toRGB / fromRGB no longer matter
        assert torch.equal(G(z), img) and torch.equal(D(x), logit)
        Gm, Dm = mid  # ... but they do during the fade
        at(k * S + 2, Gm, Dm)
        before = Gm(z), Dm(x)
        Gm.to_rgb[k - 1].weight.add_(1.0)
        Dm.from_rgb[k - 1].weight.add_(1.0)
        assert not torch.allclose(Gm(z), before[0]) and not torch.allclose(Dm(x), before[1])


def test_fade_blends_linearly_in_alpha():
    G, _ = models()
    z, _ = inputs(G)
    with torch.no_grad():
        outs = {}
        for step in (S, S + 2, S + 5):  # alpha 0, 0.4, 1
            at(step, G)
            outs[G.alpha] = G(z)
    assert torch.allclose(outs[0.4], 0.6 * outs[0.0] + 0.4 * outs[1.0], atol=1e-6)


def test_d_sees_the_real_images_average_pooled_to_its_resolution(fashion_dir):
    data = load_dataset(DataConfig(limit=8), str(fashion_dir))
    real = to_float(data.images, "-1,1")
    _, D = models()
    with torch.no_grad():
        for step, res in ((0, 7), (S + S // 2, 14), (2 * S, 28)):
            at(step, D)
            f = 28 // res
            seen = D.downsample(real)
            # the mean of each f x f block of pixels
            assert torch.allclose(seen, real.reshape(8, 1, res, f, res, f).mean(dim=(3, 5)), atol=1e-6)
            # nothing finer reaches D: the real image and its downsampled-then-upsampled copy
            # (what G produces at this stage) get the same logits
            up = F.interpolate(seen, scale_factor=f, mode="nearest")
            assert torch.allclose(D(real), D(up), atol=1e-5)
            assert torch.allclose(F.avg_pool2d(up, f), seen, atol=1e-6)


def test_equalized_layers_store_unit_variance_weights_and_scale_at_runtime():
    torch.manual_seed(0)
    conv, lin = EqualizedConv2d(64, 32, 3, padding=1), EqualizedLinear(256, 128)
    for m, fan_in in ((conv, 64 * 9), (lin, 256)):
        assert m.weight.std().item() == pytest.approx(1.0, abs=0.03)  # stored N(0, 1), no He scale
        assert m.scale == pytest.approx(math.sqrt(2) / math.sqrt(fan_in))
        assert torch.count_nonzero(m.bias) == 0
    x = torch.randn(4, 64, 8, 8)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1), atol=1e-5)
    v = torch.randn(4, 256)
    assert torch.allclose(lin(v), v @ (lin.weight * lin.scale).T + lin.bias, atol=1e-5)
    # at runtime: the gradient w.r.t. the stored weight carries the scale (ProGAN's point)
    lin(v).sum().backward()
    ref = nn.Linear(256, 128)
    with torch.no_grad():
        ref.weight.copy_(lin.weight * lin.scale)
    ref(v).sum().backward()
    assert torch.allclose(lin.weight.grad, ref.weight.grad * lin.scale, atol=1e-5)
    # every weight layer of both networks is equalised; no batch norm anywhere
    G, D = models()
    for net in (G, D):
        kinds = {type(m) for m in net.modules() if not list(m.children())}
        assert not kinds & {nn.Conv2d, nn.Linear, nn.ConvTranspose2d, nn.BatchNorm2d}


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(4, 16, 5, 5) * torch.rand(4, 1, 5, 5) * 30
    ms = pixel_norm(x).pow(2).mean(dim=1)
    assert torch.allclose(ms, torch.ones_like(ms), atol=1e-4)
    z = pixel_norm(torch.randn(3, 100) * 7)
    assert torch.allclose(z.pow(2).mean(dim=1), torch.ones(3), atol=1e-4)


def test_progress_is_a_function_of_the_step_alone_and_survives_a_state_dict():
    G, D = models()
    z, _ = inputs(G)
    at(13, G, D)
    first = (G.resolution, G.alpha, G(z))
    for step in (2, 27, 13):  # any history: the same step gives the same stage and alpha
        at(step, G, D)
    assert (G.resolution, G.alpha) == first[:2] == (14, 0.6)
    assert torch.equal(G(z), first[2])
    G2, D2 = models()  # fresh models start at step 0 (7 px) ...
    assert G2.resolution == 7
    G2.load_state_dict(G.state_dict())  # ... and take the step from the weights
    D2.load_state_dict(D.state_dict())
    assert (G2.resolution, G2.alpha, D2.resolution, D2.alpha) == (14, 0.6, 14, 0.6)
    assert int(G.state_dict()["progress_step"]) == 13
    assert torch.equal(G2(z), first[2])
    ema = copy.deepcopy(G)  # what EMA holds: a copy keeps the stage
    assert (ema.resolution, ema.alpha) == (14, 0.6)


@pytest.mark.parametrize("sets, match", [
    (["model.grow_steps=-1"], "grow_steps"),
    (["model.d_spectral_norm=true"], "does not apply to progan"),
    (["model.minibatch_disc=4", "model.d_norm=batch"], "do not apply to progan"),
])
def test_validation(sets, match):
    cfg = Config()
    cfg.model.name = "progan"
    for item in sets:
        set_value(cfg, *item.split("="))
    with pytest.raises(GankitError, match=match):
        check(cfg)


def test_sizes_that_cannot_grow_are_refused():
    with pytest.raises(GankitError, match="progan cannot grow"):
        models((1, 30, 30))
