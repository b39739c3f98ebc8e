"""What a user would pick instead of gankit, each trained for a wall-clock budget (bench/peers.py).

- `ExamplesDCGAN`: PyTorch's own example (pytorch/examples, dcgan/), written from its README and
  the DCGAN paper (Radford et al. 2016): 64x64 images (the example resizes every dataset to
  --imageSize 64), nz=100, ngf=ndf=64, G of four stride-2 transposed convolutions with batch
  norm and ReLU and a tanh output, D the mirror with leaky ReLU 0.2 and a sigmoid, BCELoss,
  Adam 2e-4 (0.5, 0.999), batch 64, weights N(0, 0.02) (batch-norm scales N(1, 0.02)).
- `DiffusersDDPM`: Hugging Face diffusers' `UNet2DModel` trained with `DDPMScheduler` (1,000
  noise levels, the noise-prediction MSE of diffusers' train_unconditional example: AdamW 1e-4,
  (0.95, 0.999), weight decay 1e-6, 500 warm-up steps), class-conditional through the UNet's
  `num_class_embeds` where the data has labels, sampled by `DDIMScheduler` in 50 steps.  The
  example's UNet (six levels, 128-512 channels) is for 64 px and up; at 32 px it keeps the
  example's shape (two ResNet layers a block, attention at the lowest resolution but one) with
  three levels of 32-64-64 channels (1.6M parameters), a size a CPU can train for minutes.  No EMA: the example's
  0.9999 decay would leave a few minutes' weights near their initialisation.

Each `train(images, labels, until)` takes uint8 [N, C, H, W] images and trains until `until`
seconds of training in all (called again, it continues); each `sample(n, seed)` returns uint8 [n, C, H, W] images at the recipe's own size.
diffusers is imported here only: it is bench/'s optional install, never a dependency of gankit.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _to_unit(u8: Tensor) -> Tensor:
    return u8.float() / 127.5 - 1.0


def _to_u8(x: Tensor) -> Tensor:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class _Trainer:
    """The budget and the bookkeeping every recipe shares: steps, images seen, seconds."""

    name = "peer"

    def __init__(self, channels: int, n_classes: int, seed: int = 0):
        self.channels, self.n_classes, self.seed = channels, n_classes, seed
        self.steps = self.images_seen = 0
        self.seconds = 0.0
        self.data: Tensor | None = None  # the images as the recipe trains on them
        self.gen = torch.Generator().manual_seed(seed)
        self.order: list[Tensor] = []  # the epoch's batches still to come

    def step(self, x: Tensor, y: Tensor | None) -> None:
        raise NotImplementedError

    def prepare(self, u8: Tensor) -> Tensor:
        return _to_unit(u8)

    def train(self, images: Tensor, labels: Tensor | None, until: float, batch: int = 64) -> None:
        """Train until `until` seconds of training in all (a second call continues the first)."""
        if self.data is None:
            torch.manual_seed(self.seed)
            self.data = self.prepare(images)
        start, before = time.perf_counter(), self.seconds
        while self.seconds < until:
            if not self.order:
                self.order = [i for i in torch.randperm(len(self.data), generator=self.gen).split(batch)
                              if len(i) == batch]
            idx = self.order.pop()
            self.step(self.data[idx], labels[idx] if labels is not None and self.n_classes else None)
            self.steps += 1
            self.images_seen += batch
            self.seconds = before + time.perf_counter() - start


# -- PyTorch's examples DCGAN --------------------------------------------------------------------

def _init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _up(cin: int, cout: int, first: bool = False) -> list[nn.Module]:
    conv = nn.ConvTranspose2d(cin, cout, 4, 1, 0, bias=False) if first else nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    return [conv, nn.BatchNorm2d(cout), nn.ReLU(True)]


def _down(cin: int, cout: int, norm: bool = True) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), *([nn.BatchNorm2d(cout)] if norm else []),
            nn.LeakyReLU(0.2, inplace=True)]


class ExamplesDCGAN(_Trainer):
    name = "examples-dcgan"
    size, nz, width = 64, 100, 64

    def __init__(self, channels: int, n_classes: int = 0, seed: int = 0):
        super().__init__(channels, 0, seed)  # the example is unconditional
        torch.manual_seed(seed)
        w = self.width
        self.G = nn.Sequential(*_up(self.nz, w * 8, first=True), *_up(w * 8, w * 4), *_up(w * 4, w * 2),
                               *_up(w * 2, w), nn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False), nn.Tanh())
        self.D = nn.Sequential(*_down(channels, w, norm=False), *_down(w, w * 2), *_down(w * 2, w * 4),
                               *_down(w * 4, w * 8), nn.Conv2d(w * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())
        self.G.apply(_init)
        self.D.apply(_init)
        self.opt_g = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999))
        self.bce = nn.BCELoss()

    def prepare(self, u8: Tensor) -> Tensor:
        # the example's transforms: Resize(64) (bilinear), CenterCrop(64), Normalize(0.5, 0.5)
        return F.interpolate(_to_unit(u8), size=self.size, mode="bilinear", align_corners=False, antialias=True)

    def step(self, x: Tensor, y: Tensor | None) -> None:
        b = x.shape[0]
        ones, zeros = torch.ones(b), torch.zeros(b)
        fake = self.G(torch.randn(b, self.nz, 1, 1))
        # D: log D(x) + log(1 - D(G(z)))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d = self.bce(self.D(x).view(-1), ones) + self.bce(self.D(fake.detach()).view(-1), zeros)
        loss_d.backward()
        self.opt_d.step()
        # G: log D(G(z)), the example's non-saturating form
        self.opt_g.zero_grad(set_to_none=True)
        self.bce(self.D(fake).view(-1), ones).backward()
        self.opt_g.step()

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> Tensor:
        self.G.eval()
        z = torch.randn(n, self.nz, 1, 1, generator=torch.Generator().manual_seed(seed))
        out = torch.cat([_to_u8(self.G(c)) for c in z.split(500)])
        self.G.train()
        return out


# -- diffusers' DDPM ---------------------------------------------------------------------------

class DiffusersDDPM(_Trainer):
    name = "diffusers-ddpm"
    size, timesteps, sample_steps = 32, 1000, 50

    def __init__(self, channels: int, n_classes: int = 0, seed: int = 0):
        super().__init__(channels, n_classes, seed)
        from diffusers import DDPMScheduler, UNet2DModel

        torch.manual_seed(seed)
        self.unet = UNet2DModel(
            sample_size=self.size, in_channels=channels, out_channels=channels, layers_per_block=2,
            block_out_channels=(32, 64, 64), down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), num_class_embeds=n_classes or None)
        self.noise = DDPMScheduler(num_train_timesteps=self.timesteps)
        self.opt = torch.optim.AdamW(self.unet.parameters(), 1e-4, betas=(0.95, 0.999), weight_decay=1e-6)
        self.warmup = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / 500))
        self.crop = self.size

    def prepare(self, u8: Tensor) -> Tensor:
        x = _to_unit(u8)
        self.crop = x.shape[-1]  # samples come back at the data's size
        pad = self.size - x.shape[-1]  # 28 px digits and clothes padded to the UNet's 32 with background
        return F.pad(x, (pad // 2, pad - pad // 2) * 2, value=-1.0) if pad > 0 else x

    def step(self, x: Tensor, y: Tensor | None) -> None:
        noise = torch.randn_like(x)
        t = torch.randint(0, self.timesteps, (x.shape[0],))
        pred = self.unet(self.noise.add_noise(x, noise, t), t, class_labels=y).sample
        loss = F.mse_loss(pred, noise)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.warmup.step()

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch: int = 250) -> Tensor:
        from diffusers import DDIMScheduler

        ddim = DDIMScheduler.from_config(self.noise.config)
        ddim.set_timesteps(self.sample_steps)
        gen = torch.Generator().manual_seed(seed)
        self.unet.eval()
        out = []
        for start in range(0, n, batch):
            b = min(batch, n - start)
            x = torch.randn(b, self.channels, self.size, self.size, generator=gen)
            y = torch.randint(0, self.n_classes, (b,), generator=gen) if self.n_classes else None
            for t in ddim.timesteps:
                x = ddim.step(self.unet(x, t, class_labels=y).sample, t, x).prev_sample
            out.append(_to_u8(x))
        self.unet.train()
        images = torch.cat(out)
        off = (self.size - self.crop) // 2  # the padding taken off again
        return images[..., off:off + self.crop, off:off + self.crop]


RECIPES = {"examples-dcgan": ExamplesDCGAN, "diffusers-ddpm": DiffusersDDPM}
