"""Training health: what the loop does when a run diverges, collapses or stops improving.

The loop (loop.py, upkeep.py) detects; this module decides and explains:
- `divergence`: which network and which quantity went non-finite (its loss, gradient or
  weights), as the one-line message the run stops with;
- `collapse_fix`: the first of the collapse monitor's suggestions that can be applied to a
  running model (a learning rate, label smoothing, instance noise; not an architecture
  change, which would not fit the checkpoint it returns to);
- `apply_changes`: config changes applied to the running state (optimisers, schedulers, and
  the state's overrides: the run's config.json is never rewritten);
- `CollapseWatch`: whether a collapse condition has lasted `train.collapse_patience` rows.
Every action the loop takes on these is an event in events.jsonl (shown in the report).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from gankit.config import Config, set_value
from gankit.training.losses import LOSSES
from gankit.training.state import TrainingState

# what the collapse monitor's warnings suggest; (1) of each is what train.on_collapse=rollback applies to
# the running model (collapse_fix, below): one rule, kept here beside it
COVERAGE_HINT = ("try: (1) halve optim.g_lr so G is not pushed onto one mode, (2) a new run with --set "
                 "model.mbstd=true or model.minibatch_disc=100 so D can see a batch lacks variety, or loss.name=wgan-gp")
# label smoothing only exists for the losses that read targets (the registry says which)
_WITH_TARGETS = ", ".join(name for name, loss in LOSSES.items() if loss.uses_targets)
SATURATION_HINT = (f"try: (1) --set loss.real_label=0.9 ({_WITH_TARGETS}) or loss.instance_noise=0.1 (any loss) so D "
                   "cannot become certain, (2) weaken D: --set model.d_dropout=0.3 or model.d_spectral_norm=true "
                   "or a lower optim.d_lr")
DIVERSITY_HINT = ("try: (1) halve optim.g_lr to slow G down, (2) a new run with --set model.mbstd=true or "
                  "model.minibatch_disc=100, or train.diffaugment=color,translation")
COLLAPSE_HINTS = {"coverage": COVERAGE_HINT, "saturation": SATURATION_HINT, "diversity": DIVERSITY_HINT}


def nonfinite(model: nn.Module) -> str | None:
    """'weights' or 'gradient' when a parameter or its gradient holds NaN/Inf, else None."""
    params = [p.detach() for p in model.parameters()]
    if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
        return "weights"
    grads = [p.grad.detach() for p in model.parameters() if p.grad is not None]
    if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
        return "gradient"
    return None


def divergence(state: TrainingState, d_loss: torch.Tensor | None, g_loss: torch.Tensor | None,
               check_params: bool) -> tuple[str, str] | None:
    """(network, what) for the first non-finite quantity, e.g. ("D", "loss"); None when healthy.

    Losses are checked every step (a NaN weight shows in the next loss); gradients and
    weights when `check_params` (log rows and before every checkpoint, so a checkpoint never
    stores a non-finite network)."""
    for net, loss in (("D", d_loss), ("G", g_loss)):
        if loss is not None and not bool(torch.isfinite(loss.detach())):
            return net, "loss"
    if check_params:
        for net, model in (("D", state.D), ("G", state.G)):
            what = nonfinite(model)
            if what:
                return net, what
    return None


def divergence_message(step: int, net: str, what: str, loss_name: str, saved_step: int | None,
                       rollbacks: int, on_divergence: str) -> str:
    where = {"loss": f"the {net} loss ({loss_name})", "gradient": f"{net}'s gradient",
             "weights": f"{net}'s weights"}[what]
    kept = (f"the last good checkpoint (step {saved_step}) is intact" if saved_step is not None
            else "no checkpoint had been saved yet")
    tried = f" after {rollbacks} rollbacks (train.max_rollbacks)" if on_divergence == "rollback" else ""
    verb = "are" if what == "weights" else "is"
    other = "model.d_spectral_norm=true" if loss_name == "hinge" else "loss.name=hinge / model.d_spectral_norm=true"
    return (f"training diverged at step {step}: {where} {verb} not finite{tried}; {kept}; lower optim.g_lr/optim.d_lr, "
            f"set train.on_divergence=rollback, or try {other}")


def collapse_fix(cfg: Config, condition: str) -> dict[str, Any]:
    """The monitor's first suggestion for `condition` that a running model can take."""
    lo, o = cfg.loss, cfg.optim
    if condition == "saturation":  # D has won: make it less certain, else slow it down
        if LOSSES[lo.name].uses_targets and lo.real_label > 0.9:
            return {"loss.real_label": 0.9}
        if lo.instance_noise == 0:
            return {"loss.instance_noise": 0.1}
        return {"optim.d_lr": o.d_lr * 0.5}
    return {"optim.g_lr": o.g_lr * 0.5}  # coverage, diversity: G collapsed onto few modes; slow G down


def _scale_lr(state: TrainingState, net: str, factor: float) -> None:
    opt = state.opt_g if net == "G" else state.opt_d
    for group in opt.param_groups:
        group["lr"] *= factor
        if "initial_lr" in group:
            group["initial_lr"] *= factor
    if state.schedulers:  # [G's, D's]: the schedule multiplies its base lr
        sched = state.schedulers[0 if net == "G" else 1]
        sched.base_lrs = [b * factor for b in sched.base_lrs]


def apply_changes(cfg: Config, state: TrainingState, changes: dict[str, Any]) -> None:
    """Set config keys on a running state: on `cfg` (the state's effective config, a copy), in the
    state's overrides (saved with it), and learning rates on the optimisers and schedules."""
    for key, value in changes.items():
        net = {"optim.g_lr": "G", "optim.d_lr": "D"}.get(key)
        if net:
            old = cfg.optim.g_lr if net == "G" else cfg.optim.d_lr
            _scale_lr(state, net, float(value) / old)
        set_value(cfg, key, value)
        state.rollback.overrides[key] = value


def lowered_lrs(cfg: Config, factor: float) -> dict[str, float]:
    return {"optim.g_lr": cfg.optim.g_lr * factor, "optim.d_lr": cfg.optim.d_lr * factor}


class CollapseWatch:
    """`update(active)` -> the condition that has been active for `patience` log rows in a row."""

    def __init__(self, patience: int):
        self.patience = patience
        self.runs: dict[str, int] = {}

    def update(self, active: set[str]) -> str | None:
        self.runs = {c: self.runs.get(c, 0) + 1 for c in active}
        lasting = [c for c, n in self.runs.items() if n >= self.patience]
        return sorted(lasting)[0] if lasting else None

    def reset(self) -> None:
        self.runs = {}


def finite_or_none(x: float | None) -> bool:
    return x is None or math.isfinite(x)
