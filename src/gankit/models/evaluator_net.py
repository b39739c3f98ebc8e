"""The evaluator network's architecture: a small CNN classifier whose penultimate layer is the
feature space gankit measures in (metrics/evaluator.py loads its weights; `model.d_init=evaluator`
builds D from its body, models/evaluator_d.py).  A network, so it lives with the networks.
"""

from __future__ import annotations

from torch import Tensor, nn

FEATURE_DIM = 128


class EvalNet(nn.Module):
    """conv3x3-BN-ReLU-maxpool blocks, then a 128-d ReLU feature layer and a linear classifier."""

    def __init__(self, in_ch: int, size: int, n_classes: int, widths: list[int]):
        super().__init__()
        self.arch = {"in_ch": in_ch, "size": size, "n_classes": n_classes, "widths": list(widths)}
        layers: list[nn.Module] = []
        c, s = in_ch, size
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            c, s = w, s // 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * s * s, FEATURE_DIM), nn.ReLU())
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, n_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: float images in [-1, 1] at the native size -> (features [B,128], logits [B,C])."""
        f = self.body(x)
        return f, self.head(self.drop(f))
