"""stylegan-lite: a small style-based generator (Karras et al. 2019, 2020) for 28-64 px on a CPU.

G = mapping (z -> w) + synthesis (w -> image), StyleGAN2's "skip" layout, scaled down:

- mapping: pixel-normed z (and, conditional, a pixel-normed class embedding beside it)
  through `model.mapping_layers` equalised-lr FC layers with leaky ReLU, lr multiplier 0.01
- synthesis: a learned constant s0 x s0 input (s0 = 7 for 28 px, 4 for 32 and 64 px:
  size = s0 * 2**n, as the dcgan model), then per resolution two modulated convolutions
  with weight demodulation (a 4x4 stride-2 transposed one that doubles the resolution, a
  3x3 one), each followed by a noise input with a learned per-channel strength, a bias and
  leaky ReLU; a toRGB (1x1 modulated, not demodulated) per resolution, summed over the
  bilinearly upsampled images (skip)
- style mixing regularisation (`model.style_mixing`, only in training mode): per sample,
  with that probability, the layers from a random crossover on take the w of a second z
- truncation: G tracks a moving average `w_avg` of w in training mode (one per class when
  conditional); `G(z, y, psi=...)` or `G.truncation_psi` (default 1.0, no truncation)
  moves w toward it: w_avg + psi * (w - w_avg)
- noise: random per sample in training, the per-layer constant buffers in eval mode (so
  sampling never draws from torch's global RNG: grids and `gankit generate` are pure
  functions of z, and taking samples mid-training does not shift the training RNG stream);
  `G.noise_mode` = "random" | "const" | "none" overrides it

D is the dcgan discriminator (same switches: mbstd, spectral norm, projection when
conditional, ...).  G ignores model.g_norm and model.g_act: demodulation takes the place of
a normalisation and leaky ReLU (0.2) is fixed, as in StyleGAN; validation refuses
model.g_spectral_norm for it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.dcgan import _D_SN, Discriminator, _init
from gankit.models.layers import EqualizedLinear, activation, base_and_doublings, maybe_sn, pixel_norm
from gankit.models.spec import ModelSpec

MAPPING_LR_MUL = 0.01  # StyleGAN's: the mapping learns 100x slower than the synthesis, for stability
W_AVG_BETA = 0.995  # per training forward; the average is a plain running mean for the first 200 updates
NOISE_MODES = ("auto", "random", "const", "none")


def start_resolution(size: int) -> tuple[int, int]:
    """(s0, n) with size = s0 * 2**n, 4 <= s0 <= 7 and n >= 1 (28 -> 7x7, 32 and 64 -> 4x4)."""
    return base_and_doublings(size, f"stylegan-lite cannot build a {size}px model")


def lrelu(x: Tensor) -> Tensor:
    # StyleGAN's sqrt(2) gain keeps the activations' second moment through each layer; in place
    # on the fresh output (leaky ReLU's backward needs only its input): no extra tensor
    return F.leaky_relu(x, 0.2).mul_(math.sqrt(2.0))


class ModulatedConv(nn.Module):
    """A k x k convolution whose input channels are scaled per sample by a style from w,
    with the output optionally demodulated to unit expected scale.

    Computed the "non-fused" way (scale x, one ordinary conv over the batch, scale the
    output), which equals a grouped conv with per-sample weights (`modulated_weight`) but
    runs as a plain batched conv, the fast path on a CPU.  `up`: a stride-2 transposed conv
    (k=4) that doubles the resolution, as StyleGAN2's up-convolution; it costs 16 MACs per
    input pixel where bilinear upsampling + a 3x3 conv costs 36 (G's convolutions at 28 px:
    34M instead of 50M multiply-adds per image)."""

    def __init__(self, in_ch: int, out_ch: int, k: int, w_dim: int, demodulate: bool = True, up: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, k, k))
        self.affine = EqualizedLinear(w_dim, in_ch, gain=1.0, bias_init=1.0)  # styles start at 1: the plain conv
        self.demodulate, self.up, self.padding = demodulate, up, 1 if up else k // 2
        # without demodulation (toRGB) the style carries the equalised-lr gain
        self.gain = 1.0 if demodulate else 1.0 / math.sqrt(in_ch * k * k)

    def styles(self, w: Tensor) -> Tensor:
        return self.affine(w) * self.gain  # [N, I]

    def demod_coefs(self, s: Tensor) -> Tensor:
        """[N, O]: 1 / ||w'||, w' = weight scaled by the styles along the input channels.
        As a matmul, s² [N, I] @ (sum over k x k of weight²) [I, O]: never builds the per-sample
        weights (an [N, O, I, k, k] tensor cost more than the convolution itself)."""
        return (s.square() @ self.weight.square().sum((2, 3)).t()).add(1e-8).rsqrt()

    def modulated_weight(self, w: Tensor) -> Tensor:
        """[N, O, I, k, k]: the per-sample weights this layer applies (for tests and inspection;
        an `up` layer applies them as a transposed conv, times 2)."""
        s = self.styles(w)
        wt = self.weight.unsqueeze(0) * s[:, None, :, None, None]
        return wt * self.demod_coefs(s)[:, :, None, None, None] if self.demodulate else wt

    def forward(self, x: Tensor, w: Tensor, bias: Tensor | None = None) -> Tensor:
        """The modulated conv of x, plus `bias` [O] (added in the same pass as the demodulation:
        on this CPU every elementwise pass over the activations costs)."""
        s = self.styles(w)
        x = x * s[:, :, None, None]
        if not self.demodulate:
            return F.conv2d(x, self.weight, bias, padding=self.padding)
        if self.up:
            x = F.conv_transpose2d(x, self.weight.transpose(0, 1), stride=2, padding=self.padding)
        else:
            x = F.conv2d(x, self.weight, padding=self.padding)
        d = self.demod_coefs(s)
        if self.up:
            # each output pixel of a 4x4 stride-2 transposed conv gets 4 of the 16 taps: x2 restores
            # the unit scale the demodulation (over all 16) aims at
            d = d * 2.0
        d = d[:, :, None, None]
        return x * d if bias is None else torch.addcmul(bias[None, :, None, None], x, d)


class StyleLayer(nn.Module):
    """Modulated 3x3 conv (4x4 stride-2 transposed when `up`), noise input, bias, leaky ReLU."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, res: int, up: bool):
        super().__init__()
        self.conv = ModulatedConv(in_ch, out_ch, 4 if up else 3, w_dim, up=up)
        # StyleGAN2 starts the noise strength at 0: noise enters only as far as training wants it
        self.noise_strength = nn.Parameter(torch.zeros(1, out_ch, 1, 1))
        self.register_buffer("noise_const", torch.randn(1, 1, res, res))
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        x = self.conv(x, w, self.bias)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], dtype=x.dtype, device=x.device)
            x = torch.addcmul(x, noise, self.noise_strength)
        elif noise_mode == "const":
            x = torch.addcmul(x, self.noise_const.to(x.dtype), self.noise_strength)
        return lrelu(x)


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, img_ch: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv(in_ch, img_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_ch))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w, self.bias)


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, w_ = img_shape
        if h != w_:
            raise GankitError(f"stylegan-lite needs square images, got {h}x{w_}; set data.resolution")
        s0, n = start_resolution(h)
        self.z_dim, self.num_classes, self.conditional = cfg.z_dim, num_classes, cfg.conditional
        self.w_dim, self.style_mixing = cfg.w_dim, cfg.style_mixing
        self.truncation_psi, self.noise_mode = 1.0, "auto"
        # channels halve per doubling from 4*g_width at s0, capped at 8*g_width for 64+ px
        chans = [min(cfg.g_width * 2 ** (n - i), cfg.g_width * 8) for i in range(n + 1)]

        self.embed = nn.Embedding(num_classes, cfg.w_dim) if cfg.conditional else None
        in_dim = cfg.z_dim + (cfg.w_dim if self.embed is not None else 0)
        self.mapping = nn.ModuleList(
            EqualizedLinear(in_dim if i == 0 else cfg.w_dim, cfg.w_dim, gain=1.0, lr_mul=MAPPING_LR_MUL)
            for i in range(cfg.mapping_layers))
        # one running mean of w per class when conditional: truncating toward the global mean
        # would pull every class toward the same average garment
        rows = num_classes if self.conditional else 1
        self.register_buffer("w_avg", torch.zeros(rows, cfg.w_dim))
        self.register_buffer("w_avg_n", torch.zeros(rows))

        self.const = nn.Parameter(torch.randn(1, chans[0], s0, s0))
        self.layers = nn.ModuleList([StyleLayer(chans[0], chans[0], cfg.w_dim, s0, up=False)])
        self.to_rgb = nn.ModuleList([ToRGB(chans[0], c, cfg.w_dim)])
        for i in range(1, n + 1):
            res = s0 * 2 ** i
            self.layers.append(StyleLayer(chans[i - 1], chans[i], cfg.w_dim, res, up=True))
            self.layers.append(StyleLayer(chans[i], chans[i], cfg.w_dim, res, up=False))
            self.to_rgb.append(ToRGB(chans[i], c, cfg.w_dim))
        # StyleGAN2's w indices: each toRGB shares its w with the next block's first conv
        self.num_ws = len(self.layers) + 1
        self.out_act = activation(cfg.out_act)

    # -- mapping -----------------------------------------------------------------------
    def mapping_net(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """z [N, z_dim] (+ labels y) -> w [N, w_dim]; no truncation, no w_avg update."""
        x = pixel_norm(z)
        if self.embed is not None:
            if y is None:
                raise ValueError("conditional generator needs labels y")
            x = torch.cat([x, pixel_norm(self.embed(y))], dim=1)
        for fc in self.mapping:
            x = lrelu(fc(x))
        return x

    def _avg_rows(self, y: Tensor | None, n: int) -> Tensor:
        return self.w_avg[y] if self.conditional and y is not None else self.w_avg[:1].expand(n, -1)

    @torch.no_grad()
    def _update_w_avg(self, w: Tensor, y: Tensor | None) -> None:
        rows = y if self.conditional and y is not None else torch.zeros(len(w), dtype=torch.long, device=w.device)
        sums = torch.zeros_like(self.w_avg).index_add_(0, rows, w.detach().to(self.w_avg.dtype))
        counts = torch.bincount(rows, minlength=len(self.w_avg)).to(self.w_avg.dtype)
        seen = counts > 0
        mean = sums / counts.clamp(min=1).unsqueeze(1)
        # a running mean first (a zero start would bias early truncation), then an EMA
        rate = torch.maximum(torch.full_like(counts, 1.0 - W_AVG_BETA), 1.0 / (self.w_avg_n + 1.0))
        rate = torch.where(seen, rate, torch.zeros_like(rate)).unsqueeze(1)
        self.w_avg.lerp_(mean, rate)
        self.w_avg_n.add_(seen.to(self.w_avg_n.dtype))

    def ws(self, z: Tensor, y: Tensor | None = None, psi: float | None = None) -> Tensor:
        """[N, num_ws, w_dim]: per-layer w, style-mixed and w_avg-updated in training, truncated by psi."""
        w = self.mapping_net(z, y)
        if self.training:
            self._update_w_avg(w, y)
        ws = w.unsqueeze(1).expand(-1, self.num_ws, -1)
        if self.training and self.style_mixing > 0:
            # branch-free (no .item(), compile-friendly): samples that do not mix cut over at num_ws
            n = z.shape[0]
            w2 = self.mapping_net(torch.randn_like(z), y)
            mix = torch.rand(n, device=z.device) < self.style_mixing
            cut = torch.randint(1, self.num_ws, (n,), device=z.device)
            cut = torch.where(mix, cut, torch.full_like(cut, self.num_ws))
            second = torch.arange(self.num_ws, device=z.device)[None, :] >= cut[:, None]  # [N, num_ws]
            ws = torch.where(second[:, :, None], w2[:, None, :], ws)
        psi = self.truncation_psi if psi is None else psi
        if isinstance(psi, Tensor) or psi != 1.0:  # a tensor psi (the ONNX graph's input) always applies
            avg = self._avg_rows(y, z.shape[0]).to(ws.dtype).unsqueeze(1)
            ws = avg + psi * (ws - avg)
        return ws

    # -- synthesis ---------------------------------------------------------------------
    def synthesis(self, ws: Tensor) -> Tensor:
        """[N, num_ws, w_dim] -> images in the data range."""
        mode = self.noise_mode
        if mode not in NOISE_MODES:
            raise ValueError(f"noise_mode {mode!r}; choose one of {', '.join(NOISE_MODES)}")
        if mode == "auto":
            mode = "random" if self.training else "const"
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], mode)
        img = self.to_rgb[0](x, ws[:, 1])
        for b in range(1, len(self.to_rgb)):
            i = 2 * b - 1  # the block's first conv takes w index 2b-1, its second 2b, its toRGB 2b+1
            x = self.layers[i](x, ws[:, i], mode)
            x = self.layers[i + 1](x, ws[:, i + 1], mode)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            img = img + self.to_rgb[b](x, ws[:, i + 2])
        return self.out_act(img)

    def forward(self, z: Tensor, y: Tensor | None = None, psi: float | None = None) -> Tensor:
        return self.synthesis(self.ws(z, y, psi))

    def extra_repr(self) -> str:
        return f"w_dim={self.w_dim}, num_ws={self.num_ws}, style_mixing={self.style_mixing}"


def check(cfg: ModelConfig) -> str | None:
    """stylegan-lite's own rules (its ModelSpec's check)."""
    if cfg.g_spectral_norm:
        return ("model.g_spectral_norm does not apply to stylegan-lite: its demodulated convolutions "
                "normalise their weights already; set model.g_spectral_norm=false")
    return None


def build_stylegan_lite(cfg: ModelConfig, img_shape: tuple[int, int, int],
                        num_classes: int) -> tuple[nn.Module, nn.Module]:
    G = Generator(cfg, img_shape, num_classes)  # equalised lr: its own N(0, 1) initialisation
    if G.embed is not None:
        nn.init.normal_(G.embed.weight)  # pixel-normed before use: the scale does not matter
    # D: the dcgan discriminator, initialised as build_dcgan does (N(0, 0.02), then spectral norm)
    D = Discriminator(cfg, img_shape, num_classes)
    D.apply(_init)
    if D.embed is not None:
        nn.init.normal_(D.embed.weight, 0.0, 0.02)
    for m in list(D.modules()):
        if isinstance(m, _D_SN):
            maybe_sn(m, cfg.d_spectral_norm)
    return G, D


SPEC = ModelSpec(build_stylegan_lite, check, "a small style-based G (mapping net, modulated convs) with the dcgan D")
