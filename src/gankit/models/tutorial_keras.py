"""The Keras tutorial GANs gankit reproduces layer for layer (presets tf-dcgan, fashion-tf2,
cifar-catdog, fashion-vogue; see docs/presets.md for the sources and every choice made
where a tutorial's description was silent).

Widths come from `model.g_width` / `model.d_width` (the presets set the tutorials' values),
so the same recipe can be made thinner or wider.  Keras 'same' padding is reproduced with
PyTorch paddings that give the same output sizes (for stride-2 layers the one-pixel
alignment differs, which does not matter for training); the even 4x4 kernels of the Vogue
G get Keras' asymmetric padding (1 before, 2 after) from an explicit ZeroPad2d.  Layers get
Keras' glorot-uniform initialisation, and a bias only where no BatchNorm follows (the
norm's shift makes it redundant).  D's final sigmoid is folded into the BCE-with-logits
loss: every D here returns raw logits [N].
"""

from __future__ import annotations

from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.tutorial_common import (
    TutorialDiscriminator,
    TutorialGenerator,
    check_divisible,
    d_act,
    d_head,
    d_in_channels,
    d_maker,
    dropout,
    g_act,
    g_in_dim,
    g_maker,
    mbstd_opt,
    norm1d,
    norm2d_opt,
    out_act,
)

Shape = tuple[int, int, int]


def _down(n: int, k: int, s: int, p: int) -> int:
    """Output side of a convolution."""
    return (n + 2 * p - k) // s + 1


def _dense_to_map(cfg: ModelConfig, mk, ch: int, h: int, w: int) -> list[nn.Module]:
    """Dense(z -> ch*h*w) [+ BN] + act, Reshape: every tutorial G starts like this."""
    bn = cfg.g_norm == "batch"
    n = ch * h * w
    return [mk.linear(g_in_dim(cfg), n, bias=not bn), *norm1d(cfg.g_norm, n), g_act(cfg), nn.Unflatten(1, (ch, h, w))]


def _tf_tutorial_g(cfg: ModelConfig, img_shape: Shape, out_bias: bool):
    """The TF DCGAN tutorial's generator, which fashion-tf2 reuses (with a bias on its output)."""
    c, h, w = img_shape
    gw, bn = cfg.g_width, cfg.g_norm == "batch"
    mk = g_maker(cfg, glorot=True)
    g = nn.Sequential(
        *_dense_to_map(cfg, mk, 4 * gw, h // 4, w // 4),
        mk.deconv(4 * gw, 2 * gw, 5, 1, 2, bias=not bn), *norm2d_opt(cfg.g_norm, 2 * gw), g_act(cfg),
        mk.deconv(2 * gw, gw, 5, 2, 2, 1, bias=not bn), *norm2d_opt(cfg.g_norm, gw), g_act(cfg),
        mk.deconv(gw, c, 5, 2, 2, 1, bias=out_bias), out_act(cfg),
    )
    return g, mk


# ---------------------------------------------------------------------------------------
# fashion-tf2: the TF2 Keras Fashion-MNIST GAN (the TF DCGAN-tutorial generator)


def build_tf2_fashion(cfg: ModelConfig, img_shape: Shape, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G: Dense(4w*H/4*W/4)+BN+LReLU, Reshape, Conv2DT(2w,5,s1), Conv2DT(w,5,s2) (+BN+LReLU each),
    Conv2DT(C,5,s2)+tanh.  D: Conv2D(w,5,s2)+LReLU, Conv2D(2w,5,s2)+LReLU, Flatten,
    Dense(2w)+LReLU, Dropout, Dense(1) (logit).  Defaults w=64 for both."""
    check_divisible("tf2-fashion", img_shape, 4)
    c, h, w = img_shape
    dw = cfg.d_width
    g, mk = _tf_tutorial_g(cfg, img_shape, out_bias=True)
    dk = d_maker(cfg, glorot=True)
    dbn = cfg.d_norm == "batch"
    fh, fw = (_down(_down(n, 5, 2, 2), 5, 2, 2) for n in (h, w))
    d = nn.Sequential(
        dk.conv(d_in_channels(cfg, c), dw, 5, 2, 2), d_act(cfg),
        dk.conv(dw, 2 * dw, 5, 2, 2, bias=not dbn), *norm2d_opt(cfg.d_norm, 2 * dw), d_act(cfg),
        *mbstd_opt(cfg), nn.Flatten(),
        dk.linear((2 * dw + int(cfg.mbstd)) * fh * fw, 2 * dw), d_act(cfg),
        *dropout(cfg.d_dropout),
        *d_head(cfg, dk, 2 * dw),
    )
    return (TutorialGenerator(g, cfg, num_classes, mk),
            TutorialDiscriminator(d, cfg, img_shape, num_classes, dk, image_input=True))


# ---------------------------------------------------------------------------------------
# tf-dcgan: TensorFlow's DCGAN tutorial (tensorflow.org/tutorials/generative/dcgan)


def build_tf_dcgan(cfg: ModelConfig, img_shape: Shape, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G: Dense(4w*H/4*W/4, no bias)+BN+LReLU, Reshape, Conv2DT(2w,5,s1), Conv2DT(w,5,s2) (no bias,
    +BN+LReLU each), Conv2DT(C,5,s2, no bias)+tanh.  D: Conv2D(w,5,s2)+LReLU+Dropout,
    Conv2D(2w,5,s2)+LReLU+Dropout, Flatten, Dense(1) (logit).  The tutorial's w is 64: its
    model.summary() gives G 2,305,472 trainable (+25,472 BN statistics) and D 212,865."""
    check_divisible("tf-dcgan", img_shape, 4)
    c, h, w = img_shape
    dw = cfg.d_width
    g, mk = _tf_tutorial_g(cfg, img_shape, out_bias=False)  # use_bias=False in the tutorial
    dk = d_maker(cfg, glorot=True)
    fh, fw = (_down(_down(n, 5, 2, 2), 5, 2, 2) for n in (h, w))
    d = nn.Sequential(
        dk.conv(d_in_channels(cfg, c), dw, 5, 2, 2), d_act(cfg), *dropout(cfg.d_dropout),
        dk.conv(dw, 2 * dw, 5, 2, 2, bias=cfg.d_norm != "batch"), *norm2d_opt(cfg.d_norm, 2 * dw), d_act(cfg),
        *dropout(cfg.d_dropout),
        *mbstd_opt(cfg), nn.Flatten(),
        *d_head(cfg, dk, (2 * dw + int(cfg.mbstd)) * fh * fw),
    )
    return (TutorialGenerator(g, cfg, num_classes, mk),
            TutorialDiscriminator(d, cfg, img_shape, num_classes, dk, image_input=True))


# ---------------------------------------------------------------------------------------
# cifar-catdog: the Keras CIFAR-10 cats-and-dogs GAN


def build_catdog(cfg: ModelConfig, img_shape: Shape, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G: Dense(2w*H/8*W/8)+BN+LReLU, Reshape, 3 x [Conv2DT(w,4,s2)+BN+LReLU], Conv2D(C,3)+tanh
    (w=128).  D: Conv2D(w,3), Conv2D(2w,3,s2), Conv2D(2w,3,s2), Conv2D(4w,3,s2), each
    +LReLU+Dropout, Flatten, Dense(1) (logit) (w=64)."""
    check_divisible("catdog", img_shape, 8)
    c, h, w = img_shape
    gw, dw = cfg.g_width, cfg.d_width
    bn = cfg.g_norm == "batch"
    mk = g_maker(cfg, glorot=True)
    ups: list[nn.Module] = []
    ch = 2 * gw
    for _ in range(3):
        ups += [mk.deconv(ch, gw, 4, 2, 1, bias=not bn), *norm2d_opt(cfg.g_norm, gw), g_act(cfg)]
        ch = gw
    g = nn.Sequential(*_dense_to_map(cfg, mk, 2 * gw, h // 8, w // 8), *ups, mk.conv(gw, c, 3, 1, 1), out_act(cfg))

    dk = d_maker(cfg, glorot=True)
    dbn = cfg.d_norm == "batch"
    p = cfg.d_dropout
    convs: list[nn.Module] = [dk.conv(d_in_channels(cfg, c), dw, 3, 1, 1), d_act(cfg), *dropout(p)]
    fh, fw = h, w
    for i, o in ((dw, 2 * dw), (2 * dw, 2 * dw), (2 * dw, 4 * dw)):
        convs += [dk.conv(i, o, 3, 2, 1, bias=not dbn), *norm2d_opt(cfg.d_norm, o), d_act(cfg), *dropout(p)]
        fh, fw = _down(fh, 3, 2, 1), _down(fw, 3, 2, 1)
    d = nn.Sequential(*convs, *mbstd_opt(cfg), nn.Flatten(), *d_head(cfg, dk, (4 * dw + int(cfg.mbstd)) * fh * fw))
    return (TutorialGenerator(g, cfg, num_classes, mk),
            TutorialDiscriminator(d, cfg, img_shape, num_classes, dk, image_input=True))


# ---------------------------------------------------------------------------------------
# fashion-vogue: the "GANs in Vogue" Keras Fashion-MNIST tutorial


def build_vogue(cfg: ModelConfig, img_shape: Shape, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G: Dense(w*H/4*W/4)+LReLU, Reshape, 2 x [UpSampling2D, Conv2D(w,5,same)+LReLU],
    2 x [Conv2D(w,4,same)+LReLU], Conv2D(C,4,same)+sigmoid (w=128).  D: Conv2D(w,5),
    Conv2D(2w,5), Conv2D(4w,5), Conv2D(8w,5) valid, each +LReLU+Dropout, Flatten,
    Dropout, Dense(1) (logit) (w=32)."""
    check_divisible("vogue", img_shape, 4)
    c, h, w = img_shape
    if min(h, w) <= 16:
        raise GankitError(f"model.name=vogue: four valid 5x5 convolutions need image sides > 16, got {h}x{w}; "
                          "set data.resolution=28 or larger")
    gw, dw = cfg.g_width, cfg.d_width
    bn = cfg.g_norm == "batch"
    mk = g_maker(cfg, glorot=True)
    body: list[nn.Module] = list(_dense_to_map(cfg, mk, gw, h // 4, w // 4))
    for _ in range(2):
        body += [nn.Upsample(scale_factor=2, mode="nearest"), mk.conv(gw, gw, 5, 1, 2, bias=not bn),
                 *norm2d_opt(cfg.g_norm, gw), g_act(cfg)]
    for _ in range(2):
        body += [nn.ZeroPad2d((1, 2, 1, 2)), mk.conv(gw, gw, 4, bias=not bn), *norm2d_opt(cfg.g_norm, gw), g_act(cfg)]
    body += [nn.ZeroPad2d((1, 2, 1, 2)), mk.conv(gw, c, 4), out_act(cfg)]
    g = nn.Sequential(*body)

    dk = d_maker(cfg, glorot=True)
    dbn = cfg.d_norm == "batch"
    p = cfg.d_dropout
    convs: list[nn.Module] = [dk.conv(d_in_channels(cfg, c), dw, 5), d_act(cfg), *dropout(p)]
    for i, o in ((dw, 2 * dw), (2 * dw, 4 * dw), (4 * dw, 8 * dw)):
        convs += [dk.conv(i, o, 5, bias=not dbn), *norm2d_opt(cfg.d_norm, o), d_act(cfg), *dropout(p)]
    feat = (8 * dw + int(cfg.mbstd)) * (h - 16) * (w - 16)
    d = nn.Sequential(*convs, *mbstd_opt(cfg), nn.Flatten(), *dropout(p), *d_head(cfg, dk, feat))
    return (TutorialGenerator(g, cfg, num_classes, mk),
            TutorialDiscriminator(d, cfg, img_shape, num_classes, dk, image_input=True))
