"""`RANGES`: the valid range of every numeric config key, the one place a numeric range lives.

`launch/validate.py` checks each key against its `Range` before anything loads; a test checks
that no numeric key of the config is missing here.  A range's `note` says what the number is
(appended to the message), and `below` replaces the message for a finite value under the low
end where a plainer sentence helps ("a learning rate must be > 0").
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric key: low..high, each end closed unless marked open; None = no bound."""

    low: float | None
    high: float | None
    low_open: bool = False
    high_open: bool = False
    note: str = ""  # what the number is, e.g. " (0 = all cores)"
    below: str = ""  # the sentence for a finite value under the low end, instead of the range

    def holds(self, v: float) -> bool:
        if not math.isfinite(v):  # NaN and infinities: no numeric key takes them
            return False
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return not (self.high is not None and (v > self.high or (self.high_open and v == self.high)))

    def problem(self, key: str, v: float) -> str | None:
        """Why `key=v` is out of range, as the message's tail; None when it holds."""
        if self.holds(v):
            return None
        if self.below and self.low is not None and math.isfinite(v) and v <= self.low:
            return f"{key}={v}; {self.below}"
        return f"{key}={v}; must be {'' if math.isfinite(v) else 'a finite number '}{self}{self.note}"

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        return f"in {'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}{')' if self.high_open else ']'}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


SIZE = 1 << 16  # an upper bound for sizes and counts no run here comes near; beyond it, a typo
PROBABILITY, FRACTION = Range(0, 1), Range(0, 1, high_open=True)
AT_LEAST_ONE = Range(1, SIZE, below="must be >= 1")
LEARNING_RATE = Range(0, None, low_open=True, below="a learning rate must be > 0 (e.g. 2e-4)")
OFF_AT_ZERO = Range(0, None, note=" (0 = off)")

RANGES: dict[str, Range] = {
    # data
    "data.limit": Range(0, None, note=" (0 = all images)"), "data.resolution": Range(0, 4096, note=" (0 = native)"),
    "data.channels": Range(0, 3, note=" (0 = native, 1 or 3)"),
    "data.augment_degrees": Range(0, 180, low_open=True, note=" (a rotation range in degrees; 10 is typical)"),
    "data.augment_shift": Range(0, 4096, note=" (pixels; 2 is typical for 28-32 px images)"),
    # model
    "model.z_dim": Range(1, SIZE), "model.g_width": Range(1, SIZE), "model.d_width": Range(1, SIZE),
    "model.d_dropout": FRACTION, "model.minibatch_disc": Range(0, SIZE, note=" (kernels; 0 = off)"),
    "model.minibatch_disc_dim": Range(1, SIZE), "model.leaky_slope": FRACTION, "model.w_dim": Range(1, SIZE),
    "model.mapping_layers": Range(1, 64), "model.style_mixing": PROBABILITY,
    "model.grow_steps": Range(0, None, note=" (steps per progan stage; 0 = no growing)"),
    "model.freeze_d_layers": Range(0, 64), "model.pack": Range(1, 64, note=" (samples D judges together; 1 = off)"),
    # loss
    "loss.gp_weight": Range(0, None), "loss.clip_value": Range(0, None, note=" (0 = the loss's own)"),
    "loss.r1_gamma": OFF_AT_ZERO, "loss.r2_gamma": OFF_AT_ZERO,
    "loss.r1_every": Range(1, SIZE, note=" (R1 every N-th D step: 1 = every step, 16 in StyleGAN2)"),
    "loss.real_label": Range(0, 1, low_open=True, note=" (0.9 is typical smoothing)"),
    "loss.label_noise": Range(0, 0.5, high_open=True), "loss.label_flip": Range(0, 0.5, high_open=True),
    "loss.instance_noise": Range(0, None), "loss.instance_noise_steps": Range(0, None, note=" (0 = the whole run)"),
    "loss.g_topk": Range(0, 1, low_open=True, note=" (the fraction of each fake batch G learns from: 1 = all, "
                                                   "0.5 is typical)"),
    "loss.g_topk_gamma": Range(0, 1, low_open=True, note=" (the fraction's decay per epoch; 0.99 is typical)"),
    "loss.ms_weight": Range(0, None, note=" (the mode-seeking term's weight: 0 = off, 1 in MSGAN)"),
    "loss.ms_tau": Range(0, None, note=" (the mode-seeking bound: 0 = unbounded as in MSGAN, ~0.33 = real "
                                       "same-class Fashion-MNIST pairs)"),
    # optim
    "optim.g_lr": LEARNING_RATE, "optim.d_lr": LEARNING_RATE,
    "optim.beta1": FRACTION, "optim.beta2": FRACTION, "optim.momentum": FRACTION,
    # train
    "train.epochs": Range(1, None, below="must be >= 1"), "train.batch_size": AT_LEAST_ONE,
    "train.seed": Range(0, 2**32 - 1, note=" (a 32-bit seed)"), "train.threads": Range(0, 4096, note=" (0 = all cores)"),
    "train.n_critic": Range(1, 1000, below="must be >= 1"), "train.ema_decay": Range(0, 1, True, True),
    "train.ema_start": Range(0, None), "train.log_every": Range(1, None), "train.sample_every": Range(1, None),
    "train.checkpoint_every": Range(1, None), "train.checkpoint_every_steps": OFF_AT_ZERO,
    "train.checkpoint_every_minutes": OFF_AT_ZERO, "train.eval_every": OFF_AT_ZERO,
    "train.eval_n": Range(1, 10**6, note=" (samples per periodic evaluation; 2048 or more for comparable FID)"),
    "train.final_eval_n": Range(0, 10**6, note=" (0 = off)"), "train.early_stop_patience": Range(0, None, note=" (0 = never)"),
    "train.collapse_patience": Range(1, None), "train.rollback_lr_factor": Range(0, 1, low_open=True),
    "train.max_rollbacks": Range(0, 1000), "train.max_steps": Range(0, None, note=" (0 = all epochs)"),
    "train.grid_size": Range(1, 1024, below="must be >= 1"),
    "train.ada_target": Range(0, 1, True, True), "train.ada_kimg": Range(0, None, low_open=True),
}
