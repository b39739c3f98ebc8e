"""The evaluator discriminator (`model.d_init=evaluator`): D's body is an evaluator classifier's.

gankit ships a small classifier per dataset (models/evaluator_net.py: conv3x3-BN-ReLU-maxpool
blocks, then a 128-d ReLU feature layer).  Its layers have nothing in common with DCGAN's
stride-2 4x4 convolutions, so no DCGAN layer could take its weights; instead this D *is* the
classifier's body, layer for layer (built by `EvalNet` itself, so the two cannot drift apart),
with a fresh linear head in place of the class logits: logit = w·f(x) (+ embed(y)·f(x), the
projection, for conditional models).  transfer.py loads the body from the evaluator's weights
when a run starts; here only the architecture is built, so `load_run` and `--resume` rebuild
it from the config alone.

The body's widths follow DCGAN's D: model.d_width * 2**i, one block per halving down to 4..7
pixels (28 px: 2 blocks, 32 px: 3).  The shipped evaluators use 32, 64 (, 128), so
model.d_width=32 matches them; transfer.py says so when it does not.  The body keeps the
classifier's batch norm and ReLU: model.d_norm and model.d_act do not apply to it.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.dcgan import _stages
from gankit.models.evaluator_net import FEATURE_DIM, EvalNet
from gankit.models.layers import Dropout, projection_logit


def evaluator_d_widths(cfg: ModelConfig, size: int) -> list[int]:
    """The body's conv widths for `size`-pixel images: DCGAN D's progression d_width * 2**i."""
    _, n = _stages(size)
    return [cfg.d_width * 2**i for i in range(n)]


def check(cfg: ModelConfig) -> str | None:
    """model.d_init=evaluator's own rules: the classifier's layers are used as they are."""
    extras = [k for k, on in (("model.d_spectral_norm=true", cfg.d_spectral_norm), ("model.mbstd=true", cfg.mbstd),
                              ("model.minibatch_disc>0", cfg.minibatch_disc > 0)) if on]
    if extras:
        return (f"model.d_init=evaluator uses the evaluator classifier's layers as they are; {', '.join(extras)} "
                "would change them: turn it off, or use model.d_init=none")
    return None


class EvaluatorD(nn.Module):
    def __init__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, w = img_shape
        if h != w:
            raise GankitError(f"model.d_init=evaluator needs square images, got {h}x{w}; set data.resolution")
        self.body = EvalNet(c, h, 1, evaluator_d_widths(cfg, h)).body  # the classifier's layers, its head dropped
        # the evaluators were trained on [-1, 1]; a sigmoid G (data.range=0,1) is mapped there
        self.from_unit = cfg.out_act == "sigmoid"
        self.drop = Dropout(cfg.d_dropout) if cfg.d_dropout > 0 else None
        self.out = nn.Linear(FEATURE_DIM, 1)
        self.embed = nn.Embedding(num_classes, FEATURE_DIM) if cfg.conditional else None
        # the new parts start as DCGAN's do: N(0, 0.02), so D's first logits are near 0
        nn.init.normal_(self.out.weight, 0.0, 0.02)
        nn.init.zeros_(self.out.bias)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.from_unit:
            x = x * 2.0 - 1.0
        h = self.body(x)
        if self.drop is not None:
            h = self.drop(h)
        return projection_logit(self.out(h).squeeze(1), self.embed, h, y)
