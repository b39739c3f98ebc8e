"""`TrainingState`: everything a run needs to continue exactly where it stopped.

G, D, the EMA of G, both optimisers and their schedulers, every RNG the loop draws from,
the step, the best evaluation score so far, and what sampling needs (image shape, class
names, the training label prior).  `state_dict()` is the checkpoint (plain tensors and
dicts, stored by checkpoint.py as safetensors + JSON) and `load_state_dict()` restores
all of it, so resume is one call, and later sweep and distributed work save and restore
the same object.  Checkpoints hold the networks unwrapped: whoever wraps G or D (DDP,
torch.compile) keeps the wrapper outside this object.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from gankit import __version__
from gankit.config import Config, set_value
from gankit.data import ImageData
from gankit.models import build_models
from gankit.models.sampling import label_prior
from gankit.runs.checkpoint import FORMAT, load_state, load_weights, save_state
from gankit.runtime.precision import make_scaler
from gankit.runtime.rng import get_rng_states, set_rng_states
from gankit.training.ada import AdaState
from gankit.training.clock import Clock
from gankit.training.ema import EMA
from gankit.training.optim import make_optimizers, make_schedulers


@dataclass
class Rollbacks:
    """The rollbacks' bookkeeping: how many so far (train.max_rollbacks counts divergence and collapse
    rollbacks together) and what they changed ({"optim.g_lr": 1e-4, ...}).  The run's config stays as
    written once; the loop trains with `TrainingState.effective_config()`, and a resume restores the
    changes from the checkpoint."""

    count: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)


def g_steps(total_steps: int, n_critic: int) -> int:
    """How many of `total_steps` D steps are followed by a G step (steps s with (s+1) % n_critic == 0)."""
    return total_steps // n_critic


@dataclass
class TrainingState:
    cfg: Config
    img_shape: tuple[int, int, int]
    class_names: list[str]
    prior: Tensor  # the training data's class frequencies (sampling.label_prior)
    G: nn.Module
    D: nn.Module
    ema: EMA | None
    opt_g: Optimizer
    opt_d: Optimizer
    schedulers: list
    targets_rng: torch.Generator  # D's label tricks (CPU, whatever the device)
    noise_rng: torch.Generator  # the noise z of each batch (CPU; the same on every rank: distributed.py)
    scalers: tuple  # (G's, D's) gradient scalers: enabled for train.amp=fp16 only (precision.py)
    step: int = 0
    best_fid: float | None = None
    seconds: float = 0.0  # training wall-clock so far, over every session (train.budget counts it)
    evals_since_best: int = 0  # periodic evaluations since the best FID (train.early_stop_patience)
    rollback: Rollbacks = field(default_factory=Rollbacks)  # how many, and what they changed
    ada: AdaState = field(default_factory=AdaState)  # train.ada's p and what moves it

    @classmethod
    def create(cls, cfg: Config, data: ImageData, device: torch.device | str, total_steps: int,
               clock: Clock | None = None) -> "TrainingState":
        """A fresh state for training cfg on data; seeds torch's RNG first, so weights are reproducible.
        `clock`: the run's training clock, which a linear lr decay under train.budget follows."""
        t = cfg.train
        torch.manual_seed(t.seed)
        img_shape = tuple(int(s) for s in data.images.shape[1:])
        num_classes = data.num_classes
        G, D = build_models(cfg.model, img_shape, num_classes)
        G.to(device)
        D.to(device)
        opt_g, opt_d = make_optimizers(G, D, cfg.optim)
        schedulers = make_schedulers(opt_g, opt_d, cfg.optim, max(1, g_steps(total_steps, t.n_critic)), clock)
        ema = EMA(G, t.ema_decay, t.ema_start) if t.ema else None
        dev = torch.device(device)
        return cls(cfg, img_shape, list(data.class_names), label_prior(data.labels, num_classes), G, D, ema,
                   opt_g, opt_d, schedulers, torch.Generator().manual_seed(t.seed + 1),
                   torch.Generator().manual_seed(t.seed + 6),
                   (make_scaler(t.amp, dev), make_scaler(t.amp, dev)))

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "gankit_version": __version__,  # checkpoint.check_format refuses newer formats
            "config": self.cfg.to_dict(), "step": self.step, "img_shape": list(self.img_shape),
            "class_names": list(self.class_names), "label_prior": self.prior,
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "G_ema": self.ema.state_dict() if self.ema is not None else {},
            "opt_G": self.opt_g.state_dict(), "opt_D": self.opt_d.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
            "rng": {**get_rng_states(), "targets": self.targets_rng.get_state(), "noise": self.noise_rng.get_state()},
            "best_fid": self.best_fid, "seconds": self.seconds,
            "evals_since_best": self.evals_since_best,
            "rollbacks": self.rollback.count, "overrides": dict(self.rollback.overrides),
            "scalers": [sc.state_dict() for sc in self.scalers],  # {} unless fp16
            "ada": self.ada.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], where: str = "checkpoint") -> list[str]:
        """Restore a checkpoint's state; returns RNG streams this machine could not restore."""
        load_weights(self.G, state["G"], "G", where)  # a layer that does not fit: one line naming it
        load_weights(self.D, state["D"], "D", where)
        self.opt_g.load_state_dict(state["opt_G"])
        self.opt_d.load_state_dict(state["opt_D"])
        for s, sd in zip(self.schedulers, state.get("schedulers", [])):
            s.load_state_dict(sd)
        if self.ema is not None and state.get("G_ema"):
            self.ema.load_state_dict(state["G_ema"])
        if "label_prior" in state:  # in place: the sampler and the monitor hold this tensor
            self.prior.copy_(state["label_prior"])
        self.targets_rng.set_state(state["rng"]["targets"])
        if "noise" in state["rng"]:  # checkpoints before distributed training drew z from torch's generator
            self.noise_rng.set_state(state["rng"]["noise"])
        self.step = int(state["step"])
        best = state.get("best_fid")
        self.best_fid = float(best) if best is not None and math.isfinite(best) else None
        self.seconds = float(state.get("seconds", 0.0))
        self.evals_since_best = int(state.get("evals_since_best", 0))
        # older checkpoints have no overrides (their config held the changes) and no ADA state (p = 0)
        self.rollback = Rollbacks(int(state.get("rollbacks", 0)), dict(state.get("overrides") or {}))
        self.ada = AdaState.from_dict(state.get("ada") or {})
        for sc, sd in zip(self.scalers, state.get("scalers", [])):
            if sd:
                sc.load_state_dict(sd)
        return set_rng_states(state["rng"])

    def effective_config(self) -> Config:
        """The run's config with the rollbacks' changes applied (a copy: the config is read-only)."""
        cfg = copy.deepcopy(self.cfg)
        for key, value in self.rollback.overrides.items():
            set_value(cfg, key, value)
        return cfg

    def save(self, path: str | Path) -> None:
        save_state(self.state_dict(), path)

    def load(self, path: str | Path) -> list[str]:
        return self.load_state_dict(load_state(path), str(path))
