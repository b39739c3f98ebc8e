"""StackedMNIST (dataset key "stacked-mnist"): three MNIST digits stacked as the R, G and B
channels of one 28x28 image, so the data has 10 x 10 x 10 = 1,000 modes, all equally likely.
The mode-collapse yardstick of the unrolled-GAN, VEEGAN, PacGAN and R3GAN papers; a generator is
scored by how many of the 1,000 modes its samples cover and by the KL divergence of its mode
histogram from uniform (metrics/modes.py).

Built from the MNIST files gankit already reads (the `data.split` split, looked for like MNIST
itself: --data-dir, $GANKIT_DATA, the cache, a download), deterministically: image i stacks the
digits at three indices drawn from a generator seeded with SEED, so every run and machine sees
the same SIZE images.  The images are unlabelled (the papers train unconditional models); their
modes are read back by the shipped MNIST classifier, channel by channel, as a sample's are.
"""

from __future__ import annotations

import torch

from gankit.data.imagedata import ImageData
from gankit.data.mnist import load_mnist
from gankit.errors import GankitError

SIZE = 128_000  # images built; data.limit takes fewer
SEED = 0


def load_stacked_mnist(cfg, data_dir=None) -> ImageData:
    try:
        digits = load_mnist(cfg, data_dir)
    except GankitError as e:
        raise GankitError(f"stacked-mnist is built from MNIST's {cfg.split} split: {e}") from None
    g = torch.Generator().manual_seed(SEED)
    idx = torch.randint(0, len(digits), (SIZE, 3), generator=g)
    images = digits.images[:, 0][idx]  # [SIZE, 3, 28, 28]: one digit per channel
    return ImageData(images.contiguous(), torch.zeros(SIZE, dtype=torch.long), [],
                     f"stacked-mnist/{cfg.split}")
