"""`plan`: how many steps a run takes and in what order it sees the data, or why it cannot run.

Pure functions of (config, data, processes): the pre-flight asks `plan` before the run
directory exists, `train()` reads its numbers from it, and `Upkeep` schedules by them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gankit.config import Config
from gankit.data import ImageData
from gankit.errors import GankitError
from gankit.runtime.distributed import Dist, check_batch


@dataclass(frozen=True)
class Plan:
    steps_per_epoch: int
    total_steps: int


def plan(cfg: Config, data: ImageData, dist: Dist = Dist()) -> Plan:
    """How many steps the run takes, or why it cannot run (one line, before anything is written)."""
    t, n_images = cfg.train, len(data)
    if n_images < t.batch_size:
        raise GankitError(f"{data.name} has {n_images} images, fewer than train.batch_size={t.batch_size}; "
                          "lower the batch size or raise data.limit")
    check_batch(t.batch_size, dist)
    pack = cfg.model.pack
    if pack > 1 and (t.batch_size // max(dist.world, 1)) % pack:
        raise GankitError(f"model.pack={pack} must divide each process's batch ({t.batch_size // dist.world} of "
                          f"train.batch_size={t.batch_size} over {dist.world} processes)")
    if t.update == "simultaneous" and dist.active:
        raise GankitError("train.update=simultaneous runs in one process; under torchrun use train.update=alternating")
    if dist.active and "rollback" in (t.on_divergence, t.on_collapse):
        raise GankitError("train.on_divergence/on_collapse=rollback run in one process; under torchrun use stop/warn")
    steps_per_epoch = n_images // t.batch_size
    total = t.epochs * steps_per_epoch
    return Plan(steps_per_epoch, min(t.max_steps, total) if t.max_steps else total)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    # a pure function of (seed, epoch), so a resumed run sees the same batches
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
