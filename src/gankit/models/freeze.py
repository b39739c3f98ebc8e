"""`model.freeze_d_layers`: FreezeD (Mo et al. 2020, "Freeze the Discriminator: a Simple
Baseline for Fine-Tuning GANs").

When a GAN is fine-tuned from trained weights, keeping D's first layers fixed keeps the
low-level features it learned (edges, strokes) and trains only the later ones, which fits a
small target dataset better than tuning all of D.  A "layer" here is one conv block of D, in
order from the input: dcgan's D.features and the evaluator D's body are sequences of blocks
that each start at a Conv2d (conv, its norm, activation, dropout / max-pool); the evaluator
body's 128-d feature layer after them, D's head, minibatch discrimination and the projection
embedding are never frozen.  Frozen blocks
get requires_grad=False, so optim.make_optimizers leaves them out of D's optimiser and no
step touches them.  Their batch-norm running statistics (evaluator D, or dcgan with
model.d_norm=batch) still follow the batches D sees: they are buffers, not weights.
"""

from __future__ import annotations

from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.dcgan import Discriminator as DcganD
from gankit.models.evaluator_d import EvaluatorD


def check(cfg: ModelConfig) -> str | None:
    """FreezeD's own rules: which Ds have conv blocks to freeze (that the weights are pretrained is
    launch/validate.py's rule: it reads train.init_from)."""
    if cfg.freeze_d_layers < 0:
        return f"model.freeze_d_layers={cfg.freeze_d_layers}; the number of D's first conv blocks to freeze, >= 0"
    if cfg.freeze_d_layers and cfg.d_init == "none" and cfg.name != "dcgan":
        return (f"model.freeze_d_layers freezes the conv blocks of dcgan's D or of the evaluator D; "
                f"model.name={cfg.name} has other layers: use model.name=dcgan, model.d_init=evaluator or "
                "model.freeze_d_layers=0")
    return None


def d_blocks(D: nn.Module) -> list[list[nn.Module]] | None:
    """D's conv blocks from the input on, or None for a D this does not know."""
    if isinstance(D, DcganD):
        seq = D.features
    elif isinstance(D, EvaluatorD):
        seq = D.body
    else:
        return None
    blocks: list[list[nn.Module]] = []
    for m in seq:
        if isinstance(m, nn.Flatten):  # the evaluator body's 128-d feature layer follows: not a conv block
            break
        if isinstance(m, nn.Conv2d):  # spectral norm keeps the class (a Conv2d subclass)
            blocks.append([])
        if blocks:
            blocks[-1].append(m)
    return blocks


def freeze_d(D: nn.Module, k: int, img_size: int) -> None:
    """requires_grad=False on D's first k conv blocks; a k it does not have is one GankitError."""
    if k <= 0:
        return
    blocks = d_blocks(D)
    if blocks is None:  # validation rejects these first; a clear line if a caller skipped it
        raise GankitError(f"model.freeze_d_layers={k}: {type(D).__module__}.{type(D).__name__} has no conv blocks "
                          "gankit knows how to freeze; use model.name=dcgan or model.d_init=evaluator")
    if k > len(blocks):
        raise GankitError(f"model.freeze_d_layers={k}: D has {len(blocks)} conv blocks at {img_size}x{img_size}; "
                          f"use 1 to {len(blocks)}")
    for block in blocks[:k]:
        for m in block:
            m.requires_grad_(False)
