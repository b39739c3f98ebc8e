"""Progressive growing (Karras et al. 2018, ProGAN) sized for 28x28 and 32x32 images.

Training starts at a b x b image (b = 7 for 28 px, 4 for 32 and 64 px) and doubles the
resolution every `model.grow_steps` steps: 7 -> 14 -> 28, or 4 -> 8 -> 16 -> 32.  In the
first half of each new stage the new block is faded in (alpha 0 -> 1): G blends its new
output with the nearest-upsampled output of the previous stage's toRGB, D blends its new
fromRGB + block with the previous fromRGB on the 2x average-pooled input.  Then the stage
trains stable for the second half; the last stage stays until the run ends.

The loop never resizes anything: G always returns full-size images (its current-resolution
output upsampled nearest), and D first average-pools its full-size input to the current
resolution.  Average-pooling a nearest-upsampled image gives back exactly the original, so
D sees what ProGAN's D sees, and reals are downsampled the same way.

Where the schedule stands is a pure function of the step (`schedule`); the models hold the
step in a registered buffer (`progress_step`), so every checkpoint and export carries it and
a model rebuilt by load_run or load_generator samples at the stage it was trained to.  The
loop calls `set_progress(step)` before each step.  Also from the paper: minibatch stddev in
D (model.mbstd), equalised learning rate everywhere, pixel norm in G; no batch norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.models.layers import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStd,
    activation,
    base_and_doublings,
    pixel_norm,
    projection_logit,
)
from gankit.models.spec import ModelSpec


def stages(size: int) -> tuple[int, int]:
    """(b, n) with size = b * 2**n, 4 <= b <= 7 and n >= 1: the first resolution and the doublings."""
    return base_and_doublings(size, f"progan cannot grow to a {size}px image")


def schedule(step: int, grow_steps: int, n_stages: int) -> tuple[int, float]:
    """(stage, alpha) at `step`: stage 0 for the first `grow_steps` steps, stage k from step
    k * grow_steps, its first grow_steps // 2 steps fading in (alpha 0 -> 1), the last stage
    kept to the end.  grow_steps = 0: the last stage from step 0."""
    if grow_steps <= 0:
        return n_stages - 1, 1.0
    stage = min(step // grow_steps, n_stages - 1)
    if stage == 0:
        return 0, 1.0
    fade = max(grow_steps // 2, 1)
    return stage, min(1.0, (step - stage * grow_steps) / fade)


def _widths(width: int, n: int) -> list[int]:
    # ProGAN halves the channels as the resolution doubles; capped at 8x so 64 px stays small
    return [width * min(2 ** (n - k), 8) for k in range(n + 1)]


def _after_load(module: "Growing", incompatible_keys) -> None:
    module._sync()  # a loaded progress_step moves the stage and alpha with it


class Growing(nn.Module):
    """Where a growing network is in the schedule: `progress_step` (a buffer, so it is in
    every state_dict), and from it `stage`, `alpha`, `resolution`."""

    def _init_growth(self, size: int, grow_steps: int) -> None:
        self.base, n = stages(size)
        self.size, self.n_stages, self.grow_steps = size, n + 1, grow_steps
        self.register_buffer("progress_step", torch.zeros((), dtype=torch.long))
        # alpha as a tensor for the forward: a changing Python float would make torch.compile
        # recompile every step of a fade; non-persistent, since it follows from the step
        self.register_buffer("fade_alpha", torch.ones(()), persistent=False)
        self.register_load_state_dict_post_hook(_after_load)
        self._sync()

    def set_progress(self, step: int) -> None:
        """Move to where the schedule is at `step` (the loop calls this before each step)."""
        self.progress_step.fill_(int(step))
        self._sync()

    def _sync(self) -> None:
        # Python mirrors of the buffer: reading the buffer in forward would sync a GPU each call
        self.stage, self.alpha = schedule(int(self.progress_step), self.grow_steps, self.n_stages)
        self.fade_alpha.fill_(self.alpha)
        self.fading = self.stage > 0 and self.alpha < 1.0

    @property
    def resolution(self) -> int:
        return self.base * 2 ** self.stage


class Generator(Growing):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, _ = img_shape
        self._init_growth(h, cfg.grow_steps)
        self.z_dim, self.num_classes, self.conditional = cfg.z_dim, num_classes, cfg.conditional
        ch = _widths(cfg.g_width, self.n_stages - 1)
        self.ch0 = ch[0]
        self.embed = nn.Embedding(num_classes, cfg.z_dim) if cfg.conditional else None
        in_dim = cfg.z_dim * (2 if self.embed is not None else 1)
        self.act = activation(cfg.g_act, cfg.leaky_slope)
        self.fc = EqualizedLinear(in_dim, ch[0] * self.base ** 2)  # ProGAN's 4x4 "conv" on a 1x1 latent
        self.conv0 = EqualizedConv2d(ch[0], ch[0], 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(ch[k - 1], ch[k], 3, padding=1),
                           EqualizedConv2d(ch[k], ch[k], 3, padding=1)])
            for k in range(1, self.n_stages))
        # toRGB is linear (gain 1) as in the paper; out_act then puts it in the data range
        self.to_rgb = nn.ModuleList(EqualizedConv2d(ch[k], c, 1, gain=1.0) for k in range(self.n_stages))
        self.out = activation(cfg.out_act, cfg.leaky_slope)

    def _layer(self, conv: nn.Module, x: Tensor) -> Tensor:
        return pixel_norm(self.act(conv(x)))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        z = pixel_norm(z)
        if self.embed is not None:
            if y is None:
                raise ValueError("conditional generator needs labels y")
            z = torch.cat([z, self.embed(y)], dim=1)
        x = pixel_norm(self.act(self.fc(z))).view(z.shape[0], self.ch0, self.base, self.base)
        x = prev = self._layer(self.conv0, x)
        for k in range(1, self.stage + 1):
            prev = x
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            for conv in self.blocks[k - 1]:
                x = self._layer(conv, x)
        img = self.out(self.to_rgb[self.stage](x))
        if self.fading:  # the previous stage's image, upsampled, blended out as alpha grows
            old = F.interpolate(self.out(self.to_rgb[self.stage - 1](prev)), scale_factor=2, mode="nearest")
            img = torch.lerp(old, img, self.fade_alpha.to(img.dtype))
        factor = self.size // self.resolution
        return F.interpolate(img, scale_factor=factor, mode="nearest") if factor > 1 else img


class Discriminator(Growing):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, _ = img_shape
        self._init_growth(h, cfg.grow_steps)
        ch = _widths(cfg.d_width, self.n_stages - 1)
        self.act = activation(cfg.d_act, cfg.leaky_slope)
        self.from_rgb = nn.ModuleList(EqualizedConv2d(c, ch[k], 1) for k in range(self.n_stages))
        # block k takes stage k's resolution to stage k-1's: two 3x3 convs, then a 2x average pool
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(ch[k], ch[k], 3, padding=1),
                           EqualizedConv2d(ch[k], ch[k - 1], 3, padding=1)])
            for k in range(1, self.n_stages))
        self.mbstd = MinibatchStd() if cfg.mbstd else None
        self.conv_last = EqualizedConv2d(ch[0] + (self.mbstd is not None), ch[0], 3, padding=1)
        self.fc = EqualizedLinear(ch[0] * self.base ** 2, ch[0])
        self.out = EqualizedLinear(ch[0], 1, gain=1.0)
        # projection discriminator (as dcgan): a per-class vector dotted with the last features
        self.embed = nn.Embedding(num_classes, ch[0]) if cfg.conditional else None

    def downsample(self, x: Tensor) -> Tensor:
        """The full-size input average-pooled to the current resolution: what this stage sees."""
        factor = self.size // self.resolution
        return F.avg_pool2d(x, factor) if factor > 1 else x

    def _block(self, k: int, h: Tensor) -> Tensor:
        for conv in self.blocks[k - 1]:
            h = self.act(conv(h))
        return F.avg_pool2d(h, 2)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.downsample(x)
        h = self.act(self.from_rgb[self.stage](x))
        if self.stage > 0:
            h = self._block(self.stage, h)
            if self.fading:  # the previous stage's path on the 2x-pooled image, blended out as alpha grows
                old = self.act(self.from_rgb[self.stage - 1](F.avg_pool2d(x, 2)))
                h = torch.lerp(old, h, self.fade_alpha.to(h.dtype))
            for k in range(self.stage - 1, 0, -1):
                h = self._block(k, h)
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = self.act(self.conv_last(h))
        h = self.act(self.fc(h.flatten(1)))
        return projection_logit(self.out(h).squeeze(1), self.embed, h, y)


def check(cfg: ModelConfig) -> str | None:
    """progan's own rules (its ModelSpec's check): the switches its equalised-lr layers make meaningless."""
    unused = [k for k, on in (("model.d_norm=batch", cfg.d_norm == "batch"), ("model.d_dropout", cfg.d_dropout > 0),
                              ("model.d_spectral_norm", cfg.d_spectral_norm),
                              ("model.g_spectral_norm", cfg.g_spectral_norm),
                              ("model.minibatch_disc", cfg.minibatch_disc > 0)) if on]
    if unused:  # equalised lr and pixel norm instead; these switches would do nothing
        return (f"{', '.join(unused)} {'do' if len(unused) > 1 else 'does'} not apply to progan (equalised "
                "learning rate, pixel norm in G, minibatch stddev via model.mbstd); turn it off")
    if cfg.d_init == "evaluator":
        return ("model.d_init=evaluator replaces D by an evaluator classifier's body, but progan's D grows with its "
                "G (fade-in stages); use model.name=dcgan with it, or model.d_init=none")
    return None


def build_progan(cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, nn.Module]:
    G, D = Generator(cfg, img_shape, num_classes), Discriminator(cfg, img_shape, num_classes)
    if G.embed is not None:
        # label vectors of norm ~1 beside a pixel-normed z of norm sqrt(z_dim), as in dcgan:
        # at PyTorch's N(0, 1) the label drowns z and G gives one image per class
        nn.init.normal_(G.embed.weight, 0.0, cfg.z_dim ** -0.5)
    if D.embed is not None:
        nn.init.normal_(D.embed.weight, 0.0, 0.02)  # the projection starts small, as in dcgan
    return G, D


SPEC = ModelSpec(build_progan, check, "progressive growing (Karras et al. 2018): equalised lr, pixel norm, fade-in stages")
