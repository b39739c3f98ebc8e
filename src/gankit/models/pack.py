"""PacGAN's packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
networks"): D judges k samples at once, stacked along the channel axis, so a generator that
repeats itself is seen doing so: k copies of one mode look unlike k draws from the data.

`Packed(D, k)` wraps a D built for k times the channels: a batch of N images becomes N/k
stacks of k consecutive images, and the logits are one per stack.  Real stacks come from the
shuffled data, fake ones from independent z, as in the paper.  Labels have no meaning for a
stack of k samples, so packing is for unconditional models (launch/validate.py says so).
"""

from __future__ import annotations

from torch import Tensor, nn


class Packed(nn.Module):
    def __init__(self, D: nn.Module, k: int):
        super().__init__()
        self.inner, self.k = D, k

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        n, c, h, w = x.shape
        if n % self.k:
            raise ValueError(f"model.pack={self.k} stacks {self.k} images at a time; a batch of {n} does not divide")
        return self.inner(x.reshape(n // self.k, self.k * c, h, w), None)

    def extra_repr(self) -> str:
        return f"k={self.k}"
