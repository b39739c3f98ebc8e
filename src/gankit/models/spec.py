"""`ModelSpec`: one model's registration, everything gankit needs to know about it in one entry.

`MODELS` (models/__init__.py) maps each `model.name` to one of these.  The entry carries the
builder, the model's own config rules (checked by launch/validate.py before anything loads,
as one sentence naming the keys) and a line for `gankit options`; shape rules are raised by
the builder when the pre-flight builds the model for the data.  Adding a model is its file
plus one line in `MODELS` (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from gankit.config import ModelConfig

Builder = Callable[[ModelConfig, tuple[int, int, int], int], tuple[nn.Module, nn.Module]]
Check = Callable[[ModelConfig], "str | None"]


@dataclass(frozen=True)
class ModelSpec:
    build: Builder  # build(model_cfg, (C, H, W), num_classes) -> (G, D)
    check: Check | None = None  # the model's own rules: a sentence naming the offending keys, or None
    description: str = ""  # one line: what the model is (gankit options)

    def __call__(self, cfg: ModelConfig, img_shape: tuple[int, int, int], num_classes: int):
        return self.build(cfg, img_shape, num_classes)
