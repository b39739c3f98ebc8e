"""The fully connected GAN of the PyTorch MNIST loss study (preset mnist-study).

G: z -> w -> 2w -> 4w -> C*H*W (ReLU, then tanh), D: C*H*W -> 4w -> 2w -> w -> 1 (ReLU,
then the sigmoid that BCELoss needed; here it is folded into the BCE-with-logits loss, so D
returns raw logits [N]).  The study's widths are w=256 for both.  PyTorch's default
initialisation is kept, as in the study.  Works at any image size: it only sees vectors.
"""

from __future__ import annotations

import math

from torch import nn

from gankit.config import ModelConfig
from gankit.models.tutorial_common import (
    EMBED_DIM,
    TutorialDiscriminator,
    TutorialGenerator,
    d_act,
    d_head,
    d_maker,
    dropout,
    g_act,
    g_in_dim,
    g_maker,
    mbstd_opt,
    norm1d,
    out_act,
)


def build_mlp(cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, nn.Module]:
    n_pix = math.prod(img_shape)
    gw, dw = cfg.g_width, cfg.d_width

    mk = g_maker(cfg, glorot=False)
    bn = cfg.g_norm == "batch"
    g_layers: list[nn.Module] = []
    i = g_in_dim(cfg)
    for o in (gw, 2 * gw, 4 * gw):
        g_layers += [mk.linear(i, o, bias=not bn), *norm1d(cfg.g_norm, o), g_act(cfg)]
        i = o
    g_layers += [mk.linear(i, n_pix), out_act(cfg), nn.Unflatten(1, tuple(img_shape))]

    dk = d_maker(cfg, glorot=False)
    dbn = cfg.d_norm == "batch"
    # The input layer never gets a norm (DCGAN's rule, applied to every seed D).
    d_layers: list[nn.Module] = [dk.linear(n_pix + (EMBED_DIM if cfg.conditional else 0), 4 * dw),
                                 d_act(cfg), *dropout(cfg.d_dropout)]
    for i, o in ((4 * dw, 2 * dw), (2 * dw, dw)):
        d_layers += [dk.linear(i, o, bias=not dbn), *norm1d(cfg.d_norm, o), d_act(cfg), *dropout(cfg.d_dropout)]
    d_layers += [*mbstd_opt(cfg), *d_head(cfg, dk, dw + int(cfg.mbstd))]
    return (TutorialGenerator(nn.Sequential(*g_layers), cfg, num_classes, mk),
            TutorialDiscriminator(nn.Sequential(*d_layers), cfg, img_shape, num_classes, dk, image_input=False))
