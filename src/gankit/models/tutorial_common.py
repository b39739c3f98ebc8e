"""Shared pieces of the tutorial networks (the tutorials gankit reproduces layer for layer).

`Maker` builds conv/linear layers with the two cross-cutting switches applied in the right
order (framework-matching initialisation first, then spectral norm, so the power-iteration
vectors start from the final weights).  `TutorialGenerator` / `TutorialDiscriminator` wrap a plain
`nn.Sequential` body with the label conditioning and the MODELS calling convention, so each
tutorial file only lists its layers.  `mbstd_opt` / `d_head` add the optional minibatch
features and the final one-unit Dense.

Every tutorial ends D with Dense(1, sigmoid); here that sigmoid is folded into the loss
(BCE-with-logits), so D returns raw logits of shape [N].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.layers import Dropout, MinibatchDiscrimination, MinibatchStd, activation, maybe_sn, norm2d

# Size of the learned label embedding, the value of the common Keras conditional-GAN recipe.
EMBED_DIM = 50


@dataclass(frozen=True)
class Maker:
    """Layer factory: `glorot` mimics Keras' default initialiser, `sn` wraps in spectral norm."""

    sn: bool = False
    glorot: bool = False

    def _finish(self, m: nn.Module) -> nn.Module:
        if self.glorot:
            # Keras: glorot_uniform kernels, zero biases (PyTorch's default differs).
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        return maybe_sn(m, self.sn)

    def linear(self, i: int, o: int, bias: bool = True) -> nn.Module:
        return self._finish(nn.Linear(i, o, bias=bias))

    def conv(self, i: int, o: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True) -> nn.Module:
        return self._finish(nn.Conv2d(i, o, k, stride=stride, padding=padding, bias=bias))

    def deconv(self, i: int, o: int, k: int, stride: int, padding: int, output_padding: int = 0,
               bias: bool = True) -> nn.Module:
        return self._finish(nn.ConvTranspose2d(i, o, k, stride=stride, padding=padding,
                                               output_padding=output_padding, bias=bias))

    def embedding(self, n: int, dim: int) -> nn.Embedding:
        e = nn.Embedding(n, dim)
        if self.glorot:
            nn.init.uniform_(e.weight, -0.05, 0.05)  # Keras' Embedding default
        return e


def g_maker(cfg: ModelConfig, glorot: bool) -> Maker:
    return Maker(sn=cfg.g_spectral_norm, glorot=glorot)


def d_maker(cfg: ModelConfig, glorot: bool) -> Maker:
    return Maker(sn=cfg.d_spectral_norm, glorot=glorot)


def g_act(cfg: ModelConfig) -> nn.Module:
    return activation(cfg.g_act, cfg.leaky_slope)


def d_act(cfg: ModelConfig) -> nn.Module:
    return activation(cfg.d_act, cfg.leaky_slope)


def out_act(cfg: ModelConfig) -> nn.Module:
    return nn.Sigmoid() if cfg.out_act == "sigmoid" else nn.Tanh()


def norm1d(kind: str, n: int) -> list[nn.Module]:
    """BatchNorm on a Dense output (Keras normalises each unit), or nothing."""
    return [nn.BatchNorm1d(n)] if kind == "batch" else []


def norm2d_opt(kind: str, ch: int) -> list[nn.Module]:
    """norm2d, but absent (not an Identity) when off, so layer lists stay literal."""
    return [norm2d(kind, ch)] if kind == "batch" else []


def dropout(p: float) -> list[nn.Module]:
    return [Dropout(p)] if p > 0 else []


def g_in_dim(cfg: ModelConfig) -> int:
    """Width of G's input: z, plus the label embedding when conditional."""
    return cfg.z_dim + (EMBED_DIM if cfg.conditional else 0)


def d_in_channels(cfg: ModelConfig, channels: int) -> int:
    """Channels of a conv D's input: the image, plus one label map when conditional."""
    return channels + (1 if cfg.conditional else 0)


def check_divisible(name: str, img_shape: tuple[int, int, int], factor: int) -> None:
    _, h, w = img_shape
    if h % factor or w % factor:
        raise GankitError(f"model.name={name} upsamples by {factor}, so image sides must be divisible by "
                          f"{factor}, got {h}x{w}; set data.resolution to e.g. {max(factor, h - h % factor)}")


def mbstd_opt(cfg: ModelConfig) -> list[nn.Module]:
    """MinibatchStd when model.mbstd: conv Ds apply it to the last feature map, before
    Flatten (one extra channel, as in ProGAN and gankit's dcgan), MLP Ds before the final
    Dense (one extra feature)."""
    return [MinibatchStd()] if cfg.mbstd else []


def d_head(cfg: ModelConfig, mk: Maker, features: int) -> list[nn.Module]:
    """Optional minibatch discrimination, then the final one-unit Dense (the tutorials'
    sigmoid lives in the BCE-with-logits loss)."""
    head: list[nn.Module] = []
    if cfg.minibatch_disc:
        head.append(MinibatchDiscrimination(features, cfg.minibatch_disc, cfg.minibatch_disc_dim))
        features += cfg.minibatch_disc
    head.append(mk.linear(features, 1))
    return head


def _labels(y: torch.Tensor | None, who: str) -> torch.Tensor:
    if y is None:
        raise ValueError(f"this {who} is class-conditional: pass integer labels y")
    return y.long()


class TutorialGenerator(nn.Module):
    """G(z, y=None): concatenates a label embedding to z (when conditional), then runs `body`."""

    def __init__(self, body: nn.Sequential, cfg: ModelConfig, num_classes: int, mk: Maker):
        super().__init__()
        self.z_dim = cfg.z_dim
        self.num_classes, self.conditional = num_classes, cfg.conditional
        self.embed = mk.embedding(num_classes, EMBED_DIM) if cfg.conditional else None
        self.body = body

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z = z.flatten(1)  # accept DCGAN-style [N, z, 1, 1] noise too
        if self.embed is not None:
            z = torch.cat([z, self.embed(_labels(y, "generator"))], 1)
        return self.body(z)


class TutorialDiscriminator(nn.Module):
    """D(x, y=None) -> logits [N].

    `image_input=True` (conv Ds): the label becomes one extra H*W input channel through an
    embedding and a Dense.  `image_input=False` (MLP Ds): x is flattened and the label
    embedding is concatenated to it.
    """

    def __init__(self, body: nn.Sequential, cfg: ModelConfig, img_shape: tuple[int, int, int],
                 num_classes: int, mk: Maker, image_input: bool):
        super().__init__()
        _, h, w = img_shape
        self.num_classes, self.conditional = num_classes, cfg.conditional
        self.image_input = image_input
        self.label: nn.Module | None = None
        if cfg.conditional and image_input:
            # model.d_spectral_norm covers the image path only: this Dense feeds an input
            # channel, it does not shape D's Lipschitz constant on x.
            self.label = nn.Sequential(mk.embedding(num_classes, EMBED_DIM),
                                       Maker(glorot=mk.glorot).linear(EMBED_DIM, h * w),
                                       nn.Unflatten(1, (1, h, w)))
        elif cfg.conditional:
            self.label = mk.embedding(num_classes, EMBED_DIM)
        self.body = body

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if not self.image_input:
            x = x.flatten(1)
        if self.label is not None:
            x = torch.cat([x, self.label(_labels(y, "discriminator"))], 1)
        return self.body(x).view(-1)
