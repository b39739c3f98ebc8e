"""Optimizers and learning-rate schedules for G and D.

`OPTIMIZERS` maps `optim.name` to a factory `(params, lr, cfg) -> Optimizer`.  G and D get
separate learning rates (`optim.g_lr`, `optim.d_lr`): the two time-scale update rule
(TTUR, Heusel et al. 2017) is just d_lr != g_lr.  Defaults follow DCGAN (Radford et al.
2016): Adam, lr 2e-4, beta1 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from gankit.config import OptimConfig
from gankit.errors import GankitError
from gankit.training.clock import Clock


def _adam(params: Iterable, lr: float, cfg: OptimConfig) -> Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2))


def _sgd(params: Iterable, lr: float, cfg: OptimConfig) -> Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum)


def _rmsprop(params: Iterable, lr: float, cfg: OptimConfig) -> Optimizer:
    # alpha keeps torch's default 0.99; WGAN (Arjovsky et al. 2017) used RMSprop w/o momentum
    return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum)


OPTIMIZERS: dict[str, Callable[[Iterable, float, OptimConfig], Optimizer]] = {
    "adam": _adam,
    "sgd": _sgd,
    "rmsprop": _rmsprop,
}


def _trainable(m: nn.Module) -> list[nn.Parameter]:
    return [p for p in m.parameters() if p.requires_grad]


def make_optimizers(G: nn.Module, D: nn.Module, cfg: OptimConfig) -> tuple[Optimizer, Optimizer]:
    """(optimizer for G with cfg.g_lr, optimizer for D with cfg.d_lr)."""
    if cfg.name not in OPTIMIZERS:
        raise GankitError(f"unknown optim.name={cfg.name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    make = OPTIMIZERS[cfg.name]
    return make(_trainable(G), cfg.g_lr, cfg), make(_trainable(D), cfg.d_lr, cfg)


def make_schedulers(
    opt_g: Optimizer, opt_d: Optimizer, cfg: OptimConfig, total_steps: int, clock: Clock | None = None
) -> list[LambdaLR]:
    """Schedulers to `.step()` once per G step (D's too, whatever n_critic is).

    `none` gives an empty list; `linear` scales both lrs by 1 - step / total_steps, so the
    lr is 0 after the last step, or, under a wall-clock budget (a `clock` with one), by
    1 - the share of the budget spent, so it is 0 when the budget is.  The budget's form
    follows the clock, so a run's lrs depend on its speed: runs under a budget are not
    bit-reproducible anyway (where they stop depends on it too).
    """
    if cfg.lr_decay == "none":
        return []
    if cfg.lr_decay != "linear":
        raise GankitError(f"unknown optim.lr_decay={cfg.lr_decay!r}; choose none or linear")
    total = max(1, int(total_steps))

    def factor(step: int) -> float:
        if clock is not None and clock.budget > 0:
            return max(0.0, 1.0 - clock.fraction())
        return max(0.0, 1.0 - step / total)

    return [LambdaLR(opt_g, factor), LambdaLR(opt_d, factor)]
