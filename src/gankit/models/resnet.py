"""A residual GAN (SNGAN, Miyato et al. 2018; BigGAN's blocks, Brock et al. 2019) for 28-64 px.

G: z -> linear -> b x b map (b = 7 for 28 px, 4 for 32 and 64) -> one up-block per doubling ->
BN, ReLU, 3x3 conv -> out_act.  An up-block is BN, ReLU, nearest 2x upsample, 3x3 conv, BN, ReLU,
3x3 conv, with a 1x1-conv shortcut on the upsampled input.  A conditional G uses conditional
batch norm (de Vries et al. 2017, as SNGAN's and BigGAN's G): each class has its own BN gain
and bias, so the label modulates every block rather than entering once with z.

D: an "optimised" first block (conv, ReLU, conv, 2x2 average pool; shortcut pool then 1x1 conv),
down-blocks (ReLU, conv, ReLU, conv, pool; shortcut 1x1 conv then pool) to a 2b x 2b map, two
blocks at that size, ReLU, a sum over pixels, a linear logit; a conditional D adds the
projection term of the other Ds.  Spectral norm on every D layer by default here
(model.d_spectral_norm, set in the sngan preset), as in SNGAN.

Widths: model.g_width and model.d_width channels in every block up to 32 px (SNGAN's CIFAR-10
nets use 256 and 128); a 64 px block has half, which keeps its 3x3 convs, the costliest ones,
in check.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.models.layers import CondBatchNorm2d, activation, base_and_doublings, maybe_sn, projection_logit
from gankit.models.spec import ModelSpec


def _width(base: int, size: int) -> int:
    """Channels of a block whose output map is size x size."""
    return max(base * 32 // max(size, 32), 8)


class UpBlock(nn.Module):
    def __init__(self, ch_in: int, ch_out: int, num_classes: int, act: nn.Module):
        super().__init__()
        self.act = act
        self.bn1, self.bn2 = CondBatchNorm2d(ch_in, num_classes), CondBatchNorm2d(ch_out, num_classes)
        self.conv1, self.conv2 = nn.Conv2d(ch_in, ch_out, 3, 1, 1), nn.Conv2d(ch_out, ch_out, 3, 1, 1)
        self.skip = nn.Conv2d(ch_in, ch_out, 1)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = F.interpolate(self.act(self.bn1(x, y)), scale_factor=2.0, mode="nearest")
        h = self.conv2(self.act(self.bn2(self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    """A D block; `first`: the optimised block on raw pixels (no ReLU before its first conv, the
    shortcut pools before its 1x1 conv); `down`: halves the map with a 2x2 average pool."""

    def __init__(self, ch_in: int, ch_out: int, act: nn.Module, down: bool, first: bool = False):
        super().__init__()
        self.act, self.down, self.first = act, down, first
        self.conv1, self.conv2 = nn.Conv2d(ch_in, ch_out, 3, 1, 1), nn.Conv2d(ch_out, ch_out, 3, 1, 1)
        # a shortcut conv only where the shape changes (SNGAN: identity for the 2b x 2b blocks)
        self.skip = nn.Conv2d(ch_in, ch_out, 1) if ch_in != ch_out or down else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(self.act(self.conv1(x if self.first else self.act(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first and self.down:  # pool first: the 1x1 conv then runs on a quarter of the pixels
            s = self.skip(F.avg_pool2d(s, 2))
        elif self.skip is not None:
            s = self.skip(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, _ = img_shape
        self.b, n = base_and_doublings(h, f"resnet cannot build a {h}px generator")
        self.z_dim, self.num_classes, self.conditional = cfg.z_dim, num_classes, bool(cfg.conditional)
        k = num_classes if self.conditional else 0
        sizes = [self.b * 2 ** i for i in range(n + 1)]  # b, 2b, ..., h
        self.ch0 = _width(cfg.g_width, sizes[1])
        self.fc = nn.Linear(cfg.z_dim, self.ch0 * self.b * self.b)
        widths = [self.ch0] + [_width(cfg.g_width, s) for s in sizes[1:]]
        self.act = activation(cfg.g_act, cfg.leaky_slope)
        self.blocks = nn.ModuleList(UpBlock(widths[i], widths[i + 1], k, self.act) for i in range(n))
        self.bn_out = nn.BatchNorm2d(widths[-1])  # SNGAN: unconditional BN before the last conv
        self.conv_out = nn.Conv2d(widths[-1], c, 3, 1, 1)
        self.out_act = nn.Tanh() if cfg.out_act == "tanh" else nn.Sigmoid()

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.conditional and y is None:
            raise ValueError("conditional generator needs labels y")
        x = self.fc(z).view(z.shape[0], self.ch0, self.b, self.b)
        for block in self.blocks:
            x = block(x, y if self.conditional else None)
        return self.out_act(self.conv_out(self.act(self.bn_out(x))))


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, _ = img_shape
        b, n = base_and_doublings(h, f"resnet cannot build a {h}px discriminator")
        self.act = activation(cfg.d_act, cfg.leaky_slope)
        blocks: list[nn.Module] = []
        ch_in, size = c, h
        for i in range(n - 1):  # down to 2b x 2b (8x8 at 32 and 64 px, 14x14 at 28)
            size //= 2
            ch = _width(cfg.d_width, size)
            blocks.append(DownBlock(ch_in, ch, self.act, down=True, first=i == 0))
            ch_in = ch
        for _ in range(2):
            blocks.append(DownBlock(ch_in, ch_in, self.act, down=False, first=not blocks))
        self.features = nn.Sequential(*blocks)
        self.out = nn.Linear(ch_in, 1)
        self.embed = nn.Embedding(num_classes, ch_in) if cfg.conditional else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.act(self.features(x)).sum((2, 3))  # SNGAN: global sum pooling
        return projection_logit(self.out(h).squeeze(1), self.embed, h, y)


def check(cfg: ModelConfig) -> str | None:
    """resnet's own rules (its ModelSpec's check): the DCGAN switches its blocks do not have."""
    unused = [k for k, on in (("model.d_norm=batch", cfg.d_norm == "batch"), ("model.g_norm=none", cfg.g_norm == "none"),
                              ("model.d_dropout", cfg.d_dropout > 0), ("model.mbstd", cfg.mbstd),
                              ("model.minibatch_disc", cfg.minibatch_disc > 0)) if on]
    if unused:  # ReLU blocks with BN in G and none in D (SNGAN); these switches would do nothing
        return (f"{', '.join(unused)} {'do' if len(unused) > 1 else 'does'} not apply to resnet (SNGAN's blocks: "
                "BN in G, none in D, spectral norm against D's overconfidence); use model.name=dcgan for it, or turn it off")
    return None


def _init(m: nn.Module) -> None:
    # SNGAN's code: Xavier-uniform, gain sqrt(2) in the residual paths, 1 in shortcuts and ends
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        gain = 1.0 if (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)) or isinstance(m, nn.Linear) else 2 ** 0.5
        nn.init.xavier_uniform_(m.weight, gain)
        nn.init.zeros_(m.bias)


def build_resnet(cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, nn.Module]:
    G, D = Generator(cfg, img_shape, num_classes), Discriminator(cfg, img_shape, num_classes)
    G.apply(_init)
    D.apply(_init)
    nn.init.xavier_uniform_(G.conv_out.weight)
    if D.embed is not None:
        nn.init.xavier_uniform_(D.embed.weight)  # SNGAN's projection embedding
    # spectral norm last, after the init (as in dcgan.py); G's conditional BN tables are not
    # normalised, D's projection embedding is
    for net, on in ((G, cfg.g_spectral_norm), (D, cfg.d_spectral_norm)):
        for m in list(net.modules()):
            if isinstance(m, (nn.Conv2d, nn.Linear)) or (net is D and isinstance(m, nn.Embedding)):
                maybe_sn(m, on)
    return G, D


SPEC = ModelSpec(build_resnet, check, "SNGAN's residual blocks (Miyato et al. 2018): conditional BN in G, projection D")
