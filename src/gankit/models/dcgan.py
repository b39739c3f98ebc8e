"""DCGAN (Radford et al. 2016) sized for small images, with every architecture switch.

The generator starts from a dense projection to an s0 x s0 feature map (s0 = 7 for 28x28,
4 for 32x32 and 64x64) and doubles the resolution with stride-2 transposed convolutions;
the discriminator mirrors it with stride-2 convolutions and ends in a linear logit.
Conditional models embed the label into G's input (or, with model.g_cbn, give each class its
own batch-norm gain and bias in every G layer) and use a projection discriminator (Miyato &
Koyama 2018): logit = w·h + embed(y)·h.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.layers import (
    CondBatchNorm2d,
    CondSequential,
    Dropout,
    MinibatchDiscrimination,
    MinibatchStd,
    activation,
    maybe_sn,
    norm2d,
    projection_logit,
)
from gankit.models.spec import ModelSpec

# layer types spectral norm applies to in each net (set by model.g/d_spectral_norm); it is applied
# in build_dcgan after the N(0, 0.02) initialisation, so the power-iteration vectors computed at
# registration belong to the final weights (G's label embedding is not normalised)
_G_SN = (nn.Linear, nn.ConvTranspose2d)
_D_SN = (nn.Linear, nn.Conv2d, nn.Embedding)


def _stages(size: int) -> tuple[int, int]:
    """(s0, n) with size = s0 * 2**n and 4 <= s0 <= 7."""
    n = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        n += 1
    if n == 0 or size > 7:
        raise GankitError(
            f"dcgan cannot build a {size * 2**n}px model; use a resolution of 4..7 times a power of two "
            "(28, 32, 64, ...) via data.resolution"
        )
    return size, n


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, _ = img_shape
        s0, n = _stages(h)
        self.z_dim, self.num_classes, self.conditional, self.s0 = cfg.z_dim, num_classes, cfg.conditional, s0
        ch = cfg.g_width * 2 ** (n - 1)
        self.ch0 = ch
        self.cbn = bool(cfg.conditional) and cfg.g_cbn  # the label enters through every BN, not beside z
        self.embed = nn.Embedding(num_classes, cfg.z_dim) if cfg.conditional and not self.cbn else None
        in_dim = cfg.z_dim * (2 if self.embed is not None else 1)

        def norm(channels: int) -> nn.Module:
            return CondBatchNorm2d(channels, num_classes) if self.cbn else norm2d(cfg.g_norm, channels)

        # the projection has no bias when a norm follows: BN would cancel it
        self.fc = nn.Linear(in_dim, ch * s0 * s0, bias=cfg.g_norm == "none")
        self.fc_post = CondSequential(norm(ch), activation(cfg.g_act, cfg.leaky_slope))
        blocks: list[nn.Module] = []
        for i in range(n):
            last = i == n - 1
            out = c if last else ch // 2
            blocks.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last or cfg.g_norm == "none"))
            if last:
                blocks.append(activation(cfg.out_act, cfg.leaky_slope))
            else:
                blocks += [norm(out), activation(cfg.g_act, cfg.leaky_slope)]
            ch = out
        self.blocks = CondSequential(*blocks)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditional and y is None:
            raise ValueError("conditional generator needs labels y")
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        x = self.fc(z).view(z.shape[0], self.ch0, self.s0, self.s0)
        y = y if self.cbn else None
        return self.blocks(self.fc_post(x, y), y)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, _ = img_shape
        s0, n = _stages(h)
        layers: list[nn.Module] = []
        ch_in, ch = c, cfg.d_width
        for i in range(n):
            # DCGAN: no normalisation on the first layer, which sees raw pixels
            layers.append(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=i == 0 or cfg.d_norm == "none"))
            if i > 0:
                layers.append(norm2d(cfg.d_norm, ch))
            layers.append(activation(cfg.d_act, cfg.leaky_slope))
            if cfg.d_dropout > 0:
                layers.append(Dropout(cfg.d_dropout))
            ch_in, ch = ch, ch * 2
        if cfg.mbstd:
            layers.append(MinibatchStd())
            ch_in += 1
        self.features = nn.Sequential(*layers)
        feat = ch_in * s0 * s0
        self.mbd = MinibatchDiscrimination(feat, cfg.minibatch_disc, cfg.minibatch_disc_dim) if cfg.minibatch_disc else None
        if self.mbd is not None:
            feat += cfg.minibatch_disc
        self.out = nn.Linear(feat, 1)
        # the projection acts on spatially pooled features (as in SNGAN): a per-class template
        # over all flattened pixels of the feature map lets G collapse to one image per class
        self.embed = nn.Embedding(num_classes, ch_in) if cfg.conditional else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        fmap = self.features(x)
        h = fmap.flatten(1)
        if self.mbd is not None:
            h = self.mbd(h)
        return projection_logit(self.out(h).squeeze(1), self.embed, fmap.sum((2, 3)), y)


def _init(m: nn.Module) -> None:
    # DCGAN's N(0, 0.02) initialisation; BN scales around 1
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d) and m.affine:  # (conditional BN keeps its tables at 1 and 0)
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def check(cfg: ModelConfig) -> str | None:
    """dcgan's own rules (its ModelSpec's check)."""
    if cfg.g_cbn and cfg.g_norm != "batch":
        return "model.g_cbn makes G's batch norms conditional; it needs model.g_norm=batch"
    return None


def build_dcgan(cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, nn.Module]:
    G, D = Generator(cfg, img_shape, num_classes), Discriminator(cfg, img_shape, num_classes)
    G.apply(_init)
    D.apply(_init)
    if G.embed is not None:
        # label vectors of norm ~1 (like a one-hot): at PyTorch's N(0, 1) they are as large as
        # z and G learns to ignore z, giving one image per class (measured: within-class pixel
        # std 0.03 after 400 steps, against 0.27 with this scale)
        nn.init.normal_(G.embed.weight, 0.0, cfg.z_dim ** -0.5)
    if D.embed is not None:
        # DCGAN's N(0, 0.02) like every other D weight, not PyTorch's N(0, 1) for embeddings
        nn.init.normal_(D.embed.weight, 0.0, 0.02)
    # spectral norm last: registering it runs power iterations on the weights as they are now
    for net, types, on in ((G, _G_SN, cfg.g_spectral_norm), (D, _D_SN, cfg.d_spectral_norm)):
        for m in list(net.modules()):
            if isinstance(m, types):
                maybe_sn(m, on)  # in place: module paths and state_dict keys stay the same
    return G, D


SPEC = ModelSpec(build_dcgan, check, "DCGAN (Radford et al. 2015): transposed-conv G, strided-conv D, every switch")
