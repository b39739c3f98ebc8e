"""Building blocks the model files switch on and off from the config.

maybe_sn                   spectral normalisation (Miyato et al. 2018) of a layer's weight
MinibatchDiscrimination    Salimans et al. 2016: lets D see how similar a sample is to the
                           rest of the batch, a signal against mode collapse
MinibatchStd               Karras et al. 2018 (ProGAN): the same idea with no parameters,
                           the average standard deviation of features across a group
activation / norm2d        name -> module for model.*_act and model.*_norm
CondBatchNorm2d / CondSequential
                           conditional batch norm (de Vries et al. 2017): a BN gain and bias per
                           class, and a Sequential that hands the labels to it
Dropout                    nn.Dropout's maths with a cheaper mask (see the class)
EqualizedConv2d / EqualizedLinear
                           Karras et al. 2018: equalised learning rate, weights stored
                           N(0, 1) and scaled by He's constant at every forward
pixel_norm                 Karras et al. 2018: each pixel's feature vector to unit mean square
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.errors import GankitError


def maybe_sn(module: nn.Module, on: bool) -> nn.Module:
    """`module` with its weight spectrally normalised when `on` (one power iteration per
    training forward; ConvTranspose is handled by torch along its output-channel dim)."""
    return spectral_norm(module) if on else module


class Dropout(nn.Module):
    """Inverted dropout, as nn.Dropout: in training each element is kept with probability 1-p
    and scaled by 1/(1-p); in eval it is the identity.

    The mask is drawn with torch.rand instead of bernoulli_: on the 2-core CPU here
    nn.Dropout took 47 ms on a 256x64x14x14 activation and this 17 ms; the TF tutorial's D
    (two dropout layers, run on real and fake batches) spent 11 % of its step drawing masks
    (bench/profile_step.py --preset tf-dcgan)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise GankitError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))  # in place: no extra tensors
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MinibatchDiscrimination(nn.Module):
    """[N, A] -> [N, A + B]: for each of B kernels, how close each sample is to the others.

    Each sample is projected to B vectors of size C (M = x T); o_b(i) = sum over j != i of
    exp(-||M_i,b - M_j,b||_1).  A collapsed batch of identical samples gives o = N - 1,
    a diverse one gives values near 0.
    """

    def __init__(self, in_features: int, num_kernels: int, kernel_dim: int = 5):
        super().__init__()
        self.in_features, self.num_kernels, self.kernel_dim = in_features, num_kernels, kernel_dim
        # std 1/sqrt(A) keeps projections O(1) whatever A is; with N(0, 1) (the paper's
        # Theano code) wide inputs give huge L1 distances, exp(-d) = 0 and no gradient.
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) / math.sqrt(in_features))

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        m = (x @ self.T).view(n, self.num_kernels, self.kernel_dim)
        dist = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # [N, N, B]
        # the j = i term is exp(0) = 1 for every sample: remove it
        o = torch.exp(-dist).sum(dim=1) - 1.0
        return torch.cat([x, o], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"


class MinibatchStd(nn.Module):
    """Append one feature: the mean over features of the std across a group of samples.

    [N, C, H, W] -> [N, C + 1, H, W] (the value fills the new channel) or [N, F] -> [N, F + 1].
    Groups of `group_size` samples (strided: sample i is in group i mod N/G); when N is
    not divisible by group_size the whole batch is one group.  Identical samples give
    sqrt(1e-8) = 1e-4, i.e. zero up to the epsilon that keeps the gradient finite.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        g = self.group_size if n % self.group_size == 0 else n
        g = min(g, n)
        y = x.reshape(g, n // g, *x.shape[1:]).float()
        var = (y - y.mean(dim=0)).pow(2).mean(dim=0)  # [N/G, ...]
        std = torch.sqrt(var + 1e-8).flatten(1).mean(dim=1)  # [N/G]
        std = std.to(x.dtype).repeat(g)  # sample i gets its group's value, i mod N/G
        feat = std.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, feat], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def activation(name: str, slope: float = 0.2) -> nn.Module:
    """relu | leaky_relu (negative slope `slope`) | tanh | sigmoid."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    raise GankitError(f"unknown activation {name!r}; choose relu, leaky_relu, tanh or sigmoid")


def norm2d(kind: str, channels: int) -> nn.Module:
    """batch -> BatchNorm2d(channels); none -> Identity."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise GankitError(f"unknown normalisation {kind!r}; choose batch or none")


class CondBatchNorm2d(nn.Module):
    """BatchNorm2d whose gain and bias are looked up by class when `num_classes` > 0 (conditional
    BN); a plain affine BatchNorm2d otherwise."""

    def __init__(self, channels: int, num_classes: int = 0):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        self.gain = nn.Embedding(num_classes, channels) if num_classes else None
        self.bias = nn.Embedding(num_classes, channels) if num_classes else None
        if self.gain is not None:
            nn.init.ones_(self.gain.weight)  # every class starts as plain BN
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        x = self.bn(x)
        if self.gain is None:
            return x
        return x * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class CondSequential(nn.Sequential):
    """nn.Sequential (same children, same state_dict keys) whose forward hands the labels `y` to
    its CondBatchNorm2d layers."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        for m in self:
            x = m(x, y) if isinstance(m, CondBatchNorm2d) else m(x)
        return x


class EqualizedConv2d(nn.Module):
    """Conv2d with an equalised learning rate (ProGAN): the weight is stored N(0, 1) and
    multiplied by He's constant gain / sqrt(fan_in) at every forward, not at init.

    Why: Adam's step is about the same size for every parameter, so a weight stored at its
    He scale moves relatively faster in layers with a small fan-in; with the scale applied at
    runtime every layer learns at the same relative speed."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, padding: int = 0, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale = gain / math.sqrt(in_ch * kernel * kernel)
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, padding={self.padding}, scale={self.scale:.4g}"


class EqualizedLinear(nn.Module):
    """Linear with an equalised learning rate (see EqualizedConv2d).  StyleGAN's options:
    `lr_mul` (the mapping network's 0.01: weights stored N(0, 1/lr_mul) and scaled back, so
    that layer learns lr_mul times slower) and `bias_init` (the styles' bias starts at 1)."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2), lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul = gain * lr_mul / math.sqrt(in_features), lr_mul

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_mul if self.lr_mul != 1.0 else self.bias
        return nn.functional.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        o, i = self.weight.shape
        return f"in_features={i}, out_features={o}, scale={self.scale:.4g}, lr_mul={self.lr_mul:g}"


def projection_logit(logit: Tensor, embed: nn.Embedding | None, h: Tensor, y: Tensor | None) -> Tensor:
    """A projection discriminator's output (Miyato & Koyama 2018): logit + embed(y)·h for a
    conditional D (`embed` set), the plain logit otherwise."""
    if embed is None:
        return logit
    if y is None:
        raise ValueError("conditional discriminator needs labels y")
    return logit + (embed(y) * h).sum(1)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """x / sqrt(mean over channels of x^2 + eps): every pixel's feature vector (dim 1) to unit
    mean square.  ProGAN's G uses it instead of batch norm, so no sample depends on the rest
    of the batch and feature magnitudes cannot escalate between G and D."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def base_and_doublings(size: int, cannot: str) -> tuple[int, int]:
    """(b, n) with size = b * 2**n, 4 <= b <= 7 and n >= 1 (28 -> 7x7, 32 and 64 -> 4x4): where a
    growing generator starts.  `cannot` opens the error, e.g. "progan cannot grow to a 30px image"."""
    b, n = size, 0
    while b % 2 == 0 and b // 2 >= 4:
        b //= 2
        n += 1
    if n == 0 or b > 7:
        raise GankitError(f"{cannot}; use a resolution of 4..7 times a power of two (28, 32, 64, ...) via "
                          "data.resolution")
    return b, n
