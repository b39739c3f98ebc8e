"""The tutorial networks: exact layer lists and parameter counts of each preset (worked
out by hand from the tutorials' descriptions), output shapes and ranges, conditioning, and
the config switches (spectral norm, dropout, norms, minibatch features, activations)."""

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.errors import GankitError
from gankit.launch.presets import load_preset
from gankit.models import MODELS, build_models
from gankit.models.layers import Dropout, MinibatchDiscrimination, MinibatchStd
from gankit.models.tutorial_common import EMBED_DIM
from gankit.models.tutorial_nets import TUTORIAL_MODELS

SHAPES = {"tf-dcgan": (1, 28, 28), "fashion-tf2": (1, 28, 28), "cifar-catdog": (3, 32, 32), "fashion-vogue": (1, 28, 28), "mnist-study": (1, 28, 28)}
WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def build(preset: str, num_classes: int = 10, shape=None, **overrides):
    cfg = load_preset(preset).model
    cfg = dataclasses.replace(cfg, **overrides)
    return build_models(cfg, shape or SHAPES[preset], num_classes)


def kind(m: nn.Module) -> str:
    # spectral norm turns Linear into a generated ParametrizedLinear subclass
    return type(m).__bases__[0].__name__ if parametrize.is_parametrized(m) else type(m).__name__


def describe(m: nn.Module) -> tuple:
    k = kind(m)
    if isinstance(m, nn.Linear):
        return (k, m.in_features, m.out_features, m.bias is not None)
    if isinstance(m, nn.ConvTranspose2d):
        return (k, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.output_padding[0],
                m.bias is not None)
    if isinstance(m, nn.Conv2d):
        return (k, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.bias is not None)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return (k, m.num_features)
    if isinstance(m, nn.LeakyReLU):
        return (k, m.negative_slope)
    if isinstance(m, Dropout):
        return (k, m.p)
    if isinstance(m, nn.Unflatten):
        return (k, tuple(m.unflattened_size))
    if isinstance(m, nn.ZeroPad2d):
        return (k, tuple(m.padding))
    if isinstance(m, nn.Upsample):
        return (k, m.scale_factor, m.mode)
    if isinstance(m, MinibatchDiscrimination):
        return (k, m.in_features, m.num_kernels, m.kernel_dim)
    return (k,)


def layers(net: nn.Module) -> list[tuple]:
    return [describe(m) for m in net.body]


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


LR3, LR2 = ("LeakyReLU", 0.3), ("LeakyReLU", 0.2)
TANH, SIGMOID, RELU, FLAT = ("Tanh",), ("Sigmoid",), ("ReLU",), ("Flatten",)
PAD = ("ZeroPad2d", (1, 2, 1, 2))  # Keras 'same' for a 4x4 kernel: 1 before, 2 after
UP = ("Upsample", 2.0, "nearest")

EXPECTED = {
    "tf-dcgan": dict(
        g=[("Linear", 100, 7 * 7 * 256, False), ("BatchNorm1d", 7 * 7 * 256), LR3, ("Unflatten", (256, 7, 7)),
           ("ConvTranspose2d", 256, 128, 5, 1, 2, 0, False), ("BatchNorm2d", 128), LR3,
           ("ConvTranspose2d", 128, 64, 5, 2, 2, 1, False), ("BatchNorm2d", 64), LR3,
           ("ConvTranspose2d", 64, 1, 5, 2, 2, 1, False), TANH],
        g_params=2_305_472,  # the tutorial's generator.summary(): trainable params
        d=[("Conv2d", 1, 64, 5, 2, 2, True), LR3, ("Dropout", 0.3), ("Conv2d", 64, 128, 5, 2, 2, True), LR3,
           ("Dropout", 0.3), FLAT, ("Linear", 128 * 7 * 7, 1, True)],
        d_params=212_865,  # discriminator.summary()
    ),
    "fashion-tf2": dict(
        g=[("Linear", 150, 7 * 7 * 256, False), ("BatchNorm1d", 7 * 7 * 256), LR3, ("Unflatten", (256, 7, 7)),
           ("ConvTranspose2d", 256, 128, 5, 1, 2, 0, False), ("BatchNorm2d", 128), LR3,
           ("ConvTranspose2d", 128, 64, 5, 2, 2, 1, False), ("BatchNorm2d", 64), LR3,
           ("ConvTranspose2d", 64, 1, 5, 2, 2, 1, True), TANH],
        g_params=(150 * 7 * 7 * 256  # Dense, no bias (BN follows)
                  + 2 * 7 * 7 * 256  # BN gamma, beta
                  + 256 * 128 * 5 * 5 + 2 * 128  # Conv2DT + BN
                  + 128 * 64 * 5 * 5 + 2 * 64
                  + 64 * 1 * 5 * 5 + 1),  # output Conv2DT with bias
        d=[("Conv2d", 1, 64, 5, 2, 2, True), LR3, ("Conv2d", 64, 128, 5, 2, 2, True), LR3, FLAT,
           ("Linear", 128 * 7 * 7, 128, True), LR3, ("Dropout", 0.3), ("Linear", 128, 1, True)],
        d_params=(1 * 64 * 25 + 64) + (64 * 128 * 25 + 128) + (128 * 7 * 7 * 128 + 128) + (128 + 1),
    ),
    "cifar-catdog": dict(
        g=[("Linear", 100, 4 * 4 * 256, False), ("BatchNorm1d", 4 * 4 * 256), LR2, ("Unflatten", (256, 4, 4)),
           ("ConvTranspose2d", 256, 128, 4, 2, 1, 0, False), ("BatchNorm2d", 128), LR2,
           ("ConvTranspose2d", 128, 128, 4, 2, 1, 0, False), ("BatchNorm2d", 128), LR2,
           ("ConvTranspose2d", 128, 128, 4, 2, 1, 0, False), ("BatchNorm2d", 128), LR2,
           ("Conv2d", 128, 3, 3, 1, 1, True), TANH],
        g_params=(100 * 4 * 4 * 256 + 2 * 4 * 4 * 256
                  + 256 * 128 * 16 + 2 * 128
                  + 2 * (128 * 128 * 16 + 2 * 128)
                  + 128 * 3 * 9 + 3),
        d=[("Conv2d", 3, 64, 3, 1, 1, True), LR2, ("Dropout", 0.4),
           ("Conv2d", 64, 128, 3, 2, 1, True), LR2, ("Dropout", 0.4),
           ("Conv2d", 128, 128, 3, 2, 1, True), LR2, ("Dropout", 0.4),
           ("Conv2d", 128, 256, 3, 2, 1, True), LR2, ("Dropout", 0.4),
           FLAT, ("Linear", 256 * 4 * 4, 1, True)],
        d_params=(3 * 64 * 9 + 64) + (64 * 128 * 9 + 128) + (128 * 128 * 9 + 128) + (128 * 256 * 9 + 256)
        + (256 * 4 * 4 + 1),
    ),
    "fashion-vogue": dict(
        g=[("Linear", 128, 7 * 7 * 128, True), LR2, ("Unflatten", (128, 7, 7)),
           UP, ("Conv2d", 128, 128, 5, 1, 2, True), LR2,
           UP, ("Conv2d", 128, 128, 5, 1, 2, True), LR2,
           PAD, ("Conv2d", 128, 128, 4, 1, 0, True), LR2,
           PAD, ("Conv2d", 128, 128, 4, 1, 0, True), LR2,
           PAD, ("Conv2d", 128, 1, 4, 1, 0, True), SIGMOID],
        # the tutorial's model.summary() totals: 2,155,137 and 1,113,345
        g_params=(128 * 7 * 7 * 128 + 7 * 7 * 128) + 2 * (128 * 128 * 25 + 128) + 2 * (128 * 128 * 16 + 128)
        + (128 * 16 + 1),
        d=[("Conv2d", 1, 32, 5, 1, 0, True), LR2, ("Dropout", 0.4),
           ("Conv2d", 32, 64, 5, 1, 0, True), LR2, ("Dropout", 0.4),
           ("Conv2d", 64, 128, 5, 1, 0, True), LR2, ("Dropout", 0.4),
           ("Conv2d", 128, 256, 5, 1, 0, True), LR2, ("Dropout", 0.4),
           FLAT, ("Dropout", 0.4), ("Linear", 256 * 12 * 12, 1, True)],
        d_params=(1 * 32 * 25 + 32) + (32 * 64 * 25 + 64) + (64 * 128 * 25 + 128) + (128 * 256 * 25 + 256)
        + (256 * 12 * 12 + 1),
    ),
    "mnist-study": dict(
        g=[("Linear", 100, 256, True), RELU, ("Linear", 256, 512, True), RELU, ("Linear", 512, 1024, True), RELU,
           ("Linear", 1024, 784, True), TANH, ("Unflatten", (1, 28, 28))],
        g_params=(100 * 256 + 256) + (256 * 512 + 512) + (512 * 1024 + 1024) + (1024 * 784 + 784),
        d=[("Linear", 784, 1024, True), RELU, ("Linear", 1024, 512, True), RELU, ("Linear", 512, 256, True), RELU,
           ("Linear", 256, 1, True)],
        d_params=(784 * 1024 + 1024) + (1024 * 512 + 512) + (512 * 256 + 256) + (256 + 1),
    ),
}


def test_registry_and_presets_agree():
    assert set(TUTORIAL_MODELS) <= set(MODELS)
    assert {load_preset(p).model.name for p in SHAPES} == set(TUTORIAL_MODELS)


@pytest.mark.parametrize("preset", list(SHAPES))
def test_exact_layers_and_parameter_counts(preset):
    G, D = build(preset)
    exp = EXPECTED[preset]
    assert layers(G) == exp["g"]
    assert layers(D) == exp["d"]
    assert n_params(G) == exp["g_params"]
    assert n_params(D) == exp["d_params"]
    assert G.z_dim == load_preset(preset).model.z_dim and G.num_classes == 10


@pytest.mark.parametrize("preset", list(SHAPES))
def test_output_shapes_ranges_and_gradients(preset):
    torch.manual_seed(0)
    G, D = build(preset)
    z = torch.randn(4, G.z_dim) * 5  # large inputs push the output activation towards its limits
    x = G(z)
    assert x.shape == (4, *SHAPES[preset])
    lo = 0.0 if load_preset(preset).model.out_act == "sigmoid" else -1.0
    assert lo <= x.min().item() and x.max().item() <= 1.0
    logits = D(x)
    assert logits.shape == (4,)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters())  # every G parameter is on the path
    # DCGAN-style [N, z, 1, 1] noise is accepted too
    assert G(z.view(4, -1, 1, 1)).shape == x.shape


@pytest.mark.parametrize("preset", list(SHAPES))
def test_conditional_variants(preset):
    torch.manual_seed(0)
    c, h, w = SHAPES[preset]
    G, D = build(preset, num_classes=3, conditional=True)
    g_first, d_first = G.body[0], D.body[0]
    z_dim = load_preset(preset).model.z_dim
    assert g_first.in_features == z_dim + EMBED_DIM
    if isinstance(d_first, nn.Linear):  # MLP D: embedding concatenated to the flat image
        assert d_first.in_features == c * h * w + EMBED_DIM
    else:  # conv D: one extra label channel
        assert d_first.in_channels == c + 1
    G.eval()  # BatchNorm in eval mode: each sample's output depends only on its own input
    z = torch.randn(3, z_dim)
    y = torch.tensor([0, 1, 2])
    x = G(z, y)
    assert x.shape == (3, c, h, w)
    assert D(x, y).shape == (3,)
    assert not torch.allclose(G(z, y), G(z, (y + 1) % 3))  # the label reaches the image
    with pytest.raises(ValueError):
        G(z)
    with pytest.raises(ValueError):
        D(x)


@pytest.mark.parametrize("preset", list(SHAPES))
def test_spectral_norm_switches(preset):
    G, D = build(preset, d_spectral_norm=True)
    d_w = [m for m in D.body if isinstance(m, WEIGHTED)]
    assert d_w and all(parametrize.is_parametrized(m, "weight") for m in d_w)
    assert not any(parametrize.is_parametrized(m) for m in G.modules())
    G, D = build(preset, g_spectral_norm=True)
    g_w = [m for m in G.body if isinstance(m, WEIGHTED)]
    assert g_w and all(parametrize.is_parametrized(m, "weight") for m in g_w)
    assert not any(parametrize.is_parametrized(m) for m in D.modules())
    # same layer list, only the weights are reparametrised
    assert layers(G) == EXPECTED[preset]["g"]


# tf2: after the hidden Dense; catdog: after each conv; vogue: after each conv and Flatten;
# the MLP study has none, and model.d_dropout adds one after each of its 3 hidden layers
@pytest.mark.parametrize("preset, n_dropout", [("fashion-tf2", 1), ("cifar-catdog", 4), ("fashion-vogue", 4 + 1),
                                               ("mnist-study", 3)])
def test_dropout_override(preset, n_dropout):
    _, D = build(preset, d_dropout=0.1)
    assert [m.p for m in D.body if isinstance(m, Dropout)] == [0.1] * n_dropout
    _, D = build(preset, d_dropout=0.0)
    assert not any(isinstance(m, Dropout) for m in D.modules())


@pytest.mark.parametrize("preset", list(SHAPES))
def test_minibatch_discrimination_before_final_dense(preset):
    _, plain = build(preset)
    _, D = build(preset, minibatch_disc=8, minibatch_disc_dim=3)
    features = plain.body[-1].in_features
    mbd, final = D.body[-2], D.body[-1]
    assert describe(mbd) == ("MinibatchDiscrimination", features, 8, 3)
    assert final.in_features == features + 8
    assert n_params(D) == n_params(plain) + features * 8 * 3 + 8  # T, and 8 more Dense weights
    assert D(torch.rand(4, *SHAPES[preset])).shape == (4,)


@pytest.mark.parametrize("preset", list(SHAPES))
def test_minibatch_std_adds_one_channel_or_feature(preset):
    _, plain = build(preset)
    _, D = build(preset, mbstd=True)
    kinds = [kind(m) for m in D.body]
    i = kinds.index("MinibatchStd")
    assert isinstance(D.body[i], MinibatchStd)
    after = next(m for m in list(D.body)[i:] if isinstance(m, nn.Linear))
    plain_after = next(m for m in list(plain.body)[i:] if isinstance(m, nn.Linear))
    if "Flatten" in kinds:  # conv D: one more channel of the last feature map
        assert kinds[i + 1] == "Flatten"
        last_conv = [m for m in D.body if isinstance(m, nn.Conv2d)][-1]
        spatial = plain_after.in_features // last_conv.out_channels
        assert after.in_features == plain_after.in_features + spatial
    else:  # MLP D: one more feature before the final Dense
        assert D.body[i + 1] is D.body[-1] and after.in_features == plain_after.in_features + 1
    assert D(torch.rand(4, *SHAPES[preset])).shape == (4,)


def test_norm_switches_follow_the_bias_rule():
    G, D = build("fashion-tf2", g_norm="none", d_norm="batch")
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in G.modules())
    assert all(m.bias is not None for m in G.body if isinstance(m, WEIGHTED))  # no norm: biases come back
    # DCGAN's rule: no norm on D's input layer, a norm (and no bias) on the next conv
    assert layers(D)[:6] == [("Conv2d", 1, 64, 5, 2, 2, True), LR3, ("Conv2d", 64, 128, 5, 2, 2, False),
                             ("BatchNorm2d", 128), LR3, FLAT]
    G, D = build("mnist-study", g_norm="batch", d_norm="batch")
    assert [describe(m) for m in G.body if isinstance(m, nn.BatchNorm1d)] == [("BatchNorm1d", n) for n in (256, 512, 1024)]
    assert [describe(m) for m in D.body if isinstance(m, nn.BatchNorm1d)] == [("BatchNorm1d", n) for n in (512, 256)]
    G, _ = build("fashion-vogue", g_norm="batch")
    assert [describe(m) for m in G.body if isinstance(m, nn.BatchNorm2d)] == [("BatchNorm2d", 128)] * 4


def test_activation_slope_width_and_z_switches():
    G, D = build("cifar-catdog", g_act="relu", leaky_slope=0.1, z_dim=64, g_width=32, d_width=16)
    assert not any(isinstance(m, nn.LeakyReLU) for m in G.modules())
    assert {m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert G.body[0].in_features == 64 and G.body[0].out_features == 2 * 32 * 4 * 4
    assert [m.out_channels for m in D.body if isinstance(m, nn.Conv2d)] == [16, 32, 32, 64]
    assert G(torch.randn(2, 64)).shape == (2, 3, 32, 32)


def test_other_resolutions_and_channels():
    # the recipes scale with the image: tf2 and vogue start at H/4, catdog at H/8
    G, D = build("fashion-tf2", shape=(3, 32, 32))
    assert G(torch.randn(2, 150)).shape == (2, 3, 32, 32) and G.body[0].out_features == 256 * 8 * 8
    assert D(torch.rand(2, 3, 32, 32)).shape == (2,)
    G, D = build("fashion-vogue", shape=(3, 32, 32))
    assert D.body[-1].in_features == 256 * (32 - 16) ** 2  # four valid 5x5 convs remove 4*4 pixels
    assert G(torch.randn(2, 128)).shape == (2, 3, 32, 32)
    G, D = build("mnist-study", shape=(3, 16, 16))
    assert G.body[-3].out_features == 3 * 16 * 16 and D(G(torch.randn(2, 100))).shape == (2,)


@pytest.mark.parametrize("preset, shape, needle", [
    ("fashion-tf2", (1, 30, 30), "divisible by 4"),
    ("cifar-catdog", (1, 28, 28), "divisible by 8"),
    ("fashion-vogue", (1, 16, 16), "> 16"),
])
def test_impossible_shapes_are_user_errors(preset, shape, needle):
    with pytest.raises(GankitError, match=needle):
        build(preset, shape=shape)


def test_conditional_needs_labels():
    with pytest.raises(GankitError, match="conditional"):
        build("mnist-study", num_classes=1, conditional=True)


def test_keras_presets_use_glorot_init_and_the_study_keeps_torch_init():
    torch.manual_seed(0)
    G, _ = build("fashion-vogue")
    conv = G.body[4]  # Conv2d(128, 128, 5)
    fan_in = fan_out = 128 * 5 * 5
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert conv.weight.abs().max().item() <= bound
    assert conv.weight.abs().max().item() > 0.95 * bound  # uniform over the whole range
    assert torch.count_nonzero(conv.bias) == 0
    G, _ = build("mnist-study")
    lin = G.body[0]  # torch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
    assert lin.weight.abs().max().item() <= 1 / math.sqrt(100)
    assert torch.count_nonzero(lin.bias) > 0


def test_tf_dcgan_batch_norm_statistics_match_the_tutorials_non_trainable_count():
    G, _ = build("tf-dcgan")
    stats = sum(b.numel() for name, b in G.named_buffers() if name.endswith(("running_mean", "running_var")))
    assert stats == 25_472  # generator.summary(): "Non-trainable params: 25,472"
