"""Config validation: impossible or incompatible settings are rejected with a reason,
before any data is loaded or any directory created.  Choices are checked against the
registries themselves, so a new loss or model is valid the moment it is registered.

`check(cfg)` runs one small function per section, then the rules that cross sections.
A model's own rules live beside its builder (models.check_model: progan, stylegan-lite,
the evaluator D, FreezeD); shape rules are raised when the model is built for the data
(launch/start.py's pre-flight).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gankit.config import Config, budget_seconds
from gankit.data import DATASETS
from gankit.data.diffaugment import AUGMENTS
from gankit.data.folder import BACKGROUNDS, CROPS
from gankit.errors import GankitError, did_you_mean
from gankit.models import MODELS, check_model
from gankit.runs.tracking import TRACKERS
from gankit.training.ada import unservable
from gankit.training.augment_real import REAL_AUGMENTS
from gankit.training.losses import LOSSES
from gankit.training.optim import OPTIMIZERS


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric key: low..high, each end closed unless marked open; None = no bound."""

    low: float | None
    high: float | None
    low_open: bool = False
    high_open: bool = False

    def holds(self, v: float) -> bool:
        if not math.isfinite(v):  # NaN and infinities: no numeric key takes them
            return False
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return not (self.high is not None and (v > self.high or (self.high_open and v == self.high)))

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        return f"in {'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}{')' if self.high_open else ']'}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


SIZE = 1 << 16  # an upper bound for sizes and counts no run here comes near; beyond it, a typo
PROBABILITY, FRACTION = Range(0, 1), Range(0, 1, high_open=True)
# the valid range of every numeric key (a test checks none is missing); the specific rules in
# check() come first, since their messages say more, and this catches the rest at --dry-run
RANGES: dict[str, Range] = {
    "data.limit": Range(0, None), "data.resolution": Range(0, 4096), "data.channels": Range(0, 3),
    "data.augment_degrees": Range(0, 180, low_open=True), "data.augment_shift": Range(0, 4096),
    "model.z_dim": Range(1, SIZE), "model.g_width": Range(1, SIZE), "model.d_width": Range(1, SIZE),
    "model.d_dropout": FRACTION, "model.minibatch_disc": Range(0, SIZE), "model.minibatch_disc_dim": Range(1, SIZE),
    "model.leaky_slope": FRACTION, "model.w_dim": Range(1, SIZE), "model.mapping_layers": Range(1, 64),
    "model.style_mixing": PROBABILITY, "model.grow_steps": Range(0, None), "model.freeze_d_layers": Range(0, 64),
    "loss.gp_weight": Range(0, None), "loss.clip_value": Range(0, None), "loss.r1_gamma": Range(0, None),
    "loss.r1_every": Range(1, SIZE), "loss.real_label": Range(0, 1, low_open=True),
    "loss.label_noise": Range(0, 0.5, high_open=True), "loss.label_flip": Range(0, 0.5, high_open=True),
    "loss.instance_noise": Range(0, None), "loss.instance_noise_steps": Range(0, None),
    "loss.g_topk": Range(0, 1, low_open=True), "loss.g_topk_gamma": Range(0, 1, low_open=True),
    "loss.ms_weight": Range(0, None), "loss.ms_tau": Range(0, None),
    "optim.g_lr": Range(0, None, low_open=True), "optim.d_lr": Range(0, None, low_open=True),
    "optim.beta1": FRACTION, "optim.beta2": FRACTION, "optim.momentum": FRACTION,
    "train.epochs": Range(1, None), "train.batch_size": Range(1, SIZE), "train.seed": Range(0, 2**32 - 1),
    "train.threads": Range(0, 4096), "train.n_critic": Range(1, 1000), "train.ema_decay": Range(0, 1, True, True),
    "train.ema_start": Range(0, None), "train.log_every": Range(1, None), "train.sample_every": Range(1, None),
    "train.checkpoint_every": Range(1, None), "train.checkpoint_every_steps": Range(0, None),
    "train.checkpoint_every_minutes": Range(0, None), "train.eval_every": Range(0, None),
    "train.eval_n": Range(1, 10**6), "train.final_eval_n": Range(0, 10**6), "train.early_stop_patience": Range(0, None), "train.collapse_patience": Range(1, None),
    "train.rollback_lr_factor": Range(0, 1, low_open=True), "train.max_rollbacks": Range(0, 1000),
    "train.max_steps": Range(0, None), "train.grid_size": Range(1, 1024),
    "train.ada_target": Range(0, 1, True, True), "train.ada_kimg": Range(0, None, low_open=True),
}
NOTES = {"train.threads": " (0 = all cores)", "train.seed": " (a 32-bit seed)", "train.eval_n": " (samples per periodic "
         "evaluation; 2048 or more for comparable FID)", "data.channels": " (0 = native, 1 or 3)"}


def bad(msg: str) -> None:
    raise GankitError(f"invalid config: {msg}")


def one_of(key: str, value: str, choices) -> None:
    if value not in choices:
        bad(f"{key}={value!r}{did_you_mean(value, choices)}; choose one of: {', '.join(sorted(choices))}")


def check(cfg: Config) -> Config:
    d, m, lo, o, t = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train
    one_of("data.dataset", d.dataset, DATASETS)
    one_of("data.split", d.split, ("train", "test"))
    one_of("data.range", d.range, ("-1,1", "0,1"))
    one_of("model.name", m.name, MODELS)
    one_of("loss.name", lo.name, LOSSES)
    one_of("optim.name", o.name, OPTIMIZERS)
    one_of("optim.lr_decay", o.lr_decay, ("none", "linear"))
    one_of("train.amp", t.amp, ("none", "bf16", "fp16"))
    for key in ("g_norm", "d_norm"):
        one_of(f"model.{key}", getattr(m, key), ("batch", "none"))
    for key in ("g_act", "d_act"):
        one_of(f"model.{key}", getattr(m, key), ("relu", "leaky_relu"))
    one_of("model.out_act", m.out_act, ("tanh", "sigmoid"))
    for a in [] if t.diffaugment == "auto" else t.diffaugment:
        one_of("train.diffaugment", a, AUGMENTS)
    _data(cfg)
    _transfer(cfg)
    _data_paths(cfg)
    _model(cfg)
    _train(cfg)
    _optim(cfg)
    _loss(cfg)
    _ranges(cfg)
    _device(cfg)
    return cfg


def _ranges(cfg: Config) -> None:
    for key, rng in RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value == "auto":  # resolved from the data in the pre-flight (model.d_width)
            continue
        if not rng.holds(value):
            finite = "" if math.isfinite(value) else "a finite number "
            bad(f"{key}={value}; must be {finite}{rng}{NOTES.get(key, '')}")


def _device(cfg: Config) -> None:
    t = cfg.train
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", t.device):
        bad(f"train.device={t.device!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    if t.amp == "fp16" and t.device in ("cpu", "mps"):
        bad(f"train.amp=fp16 needs a CUDA GPU (train.device={t.device}); use train.amp=bf16 or none")


def _data(cfg: Config) -> None:
    d = cfg.data
    one_of("data.crop", d.crop, CROPS)
    one_of("data.stream", d.stream, ("auto", "true", "false"))
    one_of("data.background", d.background, tuple(BACKGROUNDS))
    for a in d.augment:
        one_of("data.augment", a, REAL_AUGMENTS)
    if not 0.0 < d.augment_degrees <= 180.0:  # NaN too
        bad(f"data.augment_degrees={d.augment_degrees}; a rotation range in (0, 180] degrees (10 is typical)")
    if d.augment_shift < 0:
        bad(f"data.augment_shift={d.augment_shift}; pixels, >= 0 (2 is typical for 28-32 px images)")


def _transfer(cfg: Config) -> None:
    """Starting from other weights: FreezeD needs pretrained ones, the evaluator D a loss it fits."""
    m, lo, t = cfg.model, cfg.loss, cfg.train
    one_of("model.d_init", m.d_init, ("none", "evaluator"))
    if m.freeze_d_layers > 0 and not (t.init_from or m.d_init != "none"):
        # frozen random weights are not features worth keeping
        bad(f"model.freeze_d_layers={m.freeze_d_layers} keeps D's first blocks at their initial weights, which "
            "needs pretrained ones: add --init-from RUN (train.init_from) or model.d_init=evaluator")
    problem = check_model(m)  # the model's own rules, the evaluator D's and FreezeD's
    if problem:
        bad(problem)
    if m.d_init == "evaluator" and LOSSES[lo.name].penalty is not None:
        bad(f"model.d_init=evaluator keeps the classifier's batch norm, so D's output for one image depends on "
            f"the rest of the batch, and loss.name={lo.name} penalises each sample's gradient; use another "
            "loss (ns, hinge) or model.d_init=none")


def _data_paths(cfg: Config) -> None:
    d, m = cfg.data, cfg.model
    if d.dataset == "folder" and not d.path:
        bad("data.dataset=folder needs data.path=DIR_OR_ZIP")
    if d.limit < 0 or d.resolution < 0:
        bad("data.limit and data.resolution must be >= 0")
    if d.channels not in (0, 1, 3):
        bad(f"data.channels={d.channels}; use 1, 3 or 0 (native)")
    if (m.out_act == "tanh") != (d.range == "-1,1"):
        bad(f"model.out_act={m.out_act} produces a different range than data.range={d.range}; "
            "use tanh with -1,1 or sigmoid with 0,1")


def _model(cfg: Config) -> None:
    m, t = cfg.model, cfg.train
    if m.z_dim < 1 or m.g_width < 1 or (m.d_width != "auto" and m.d_width < 1):
        bad("model.z_dim, model.g_width and model.d_width must be >= 1")
    if not 0.0 <= m.d_dropout < 1.0:
        bad(f"model.d_dropout={m.d_dropout}; must be in [0, 1)")
    if m.minibatch_disc < 0 or m.minibatch_disc_dim < 1:
        bad("model.minibatch_disc must be >= 0 and model.minibatch_disc_dim >= 1")
    if m.w_dim < 1 or m.mapping_layers < 1:
        bad("model.w_dim and model.mapping_layers must be >= 1")
    if not 0.0 <= m.style_mixing <= 1.0:
        bad(f"model.style_mixing={m.style_mixing}; a probability in [0, 1]")
    if m.grow_steps < 0:
        bad(f"model.grow_steps={m.grow_steps}; steps per progan stage must be >= 0 (0 = no growing)")
    if (m.minibatch_disc or m.mbstd) and t.batch_size < 2:
        bad("minibatch discrimination / mbstd compare samples within a batch: train.batch_size must be >= 2")


def _train(cfg: Config) -> None:
    t = cfg.train
    for key, value in (("train.epochs", t.epochs), ("train.batch_size", t.batch_size), ("train.n_critic", t.n_critic),
                       ("train.grid_size", t.grid_size)):
        if value < 1:
            bad(f"{key}={value}; must be >= 1")
    budget_seconds(t.budget)  # raises on a malformed duration
    if t.update not in ("alternating", "simultaneous"):
        bad(f"train.update={t.update!r}: use alternating or simultaneous")
    if t.update == "simultaneous" and t.n_critic != 1:
        bad("train.update=simultaneous takes both gradients from one step: it needs train.n_critic=1")
    if t.log_every < 1 or t.sample_every < 1 or t.checkpoint_every < 1:
        bad("train.log_every, train.sample_every and train.checkpoint_every must be >= 1")
    one_of("train.on_divergence", t.on_divergence, ("stop", "rollback"))
    one_of("train.on_collapse", t.on_collapse, ("warn", "rollback"))
    one_of("train.eval_evaluator", t.eval_evaluator, ("auto", "ssl", "none"))
    one_of("train.track", t.track, TRACKERS)
    if t.checkpoint_every_steps < 0 or t.checkpoint_every_minutes < 0:
        bad("train.checkpoint_every_steps and train.checkpoint_every_minutes must be >= 0 (0 = off)")
    if t.early_stop_patience < 0 or t.max_rollbacks < 0 or t.collapse_patience < 1:
        bad("train.early_stop_patience and train.max_rollbacks must be >= 0, train.collapse_patience >= 1")
    why = unservable(cfg) if t.ada is True else None  # auto turns itself off instead (ada.resolve)
    if why:
        bad(why)
    if t.early_stop_patience and not t.eval_every:
        bad("train.early_stop_patience counts periodic evaluations: set train.eval_every=N (epochs) as well")
    if not 0.0 < t.rollback_lr_factor <= 1.0:
        bad(f"train.rollback_lr_factor={t.rollback_lr_factor}; must be in (0, 1]")
    if not 0.0 < t.ema_decay < 1.0:
        bad(f"train.ema_decay={t.ema_decay}; must be in (0, 1)")


def _optim(cfg: Config) -> None:
    o = cfg.optim
    for key, lr in (("optim.g_lr", o.g_lr), ("optim.d_lr", o.d_lr)):
        if not lr > 0:  # NaN too
            bad(f"{key}={lr}; a learning rate must be > 0 (e.g. 2e-4)")
    if not (0 <= o.beta1 < 1 and 0 <= o.beta2 < 1):
        bad("optim.beta1 and optim.beta2 must be in [0, 1)")


def _loss(cfg: Config) -> None:
    m, lo = cfg.model, cfg.loss
    if not 0.0 < lo.real_label <= 1.0:
        bad(f"loss.real_label={lo.real_label}; must be in (0, 1] (0.9 is typical smoothing)")
    if not 0.0 <= lo.label_noise < 0.5 or not 0.0 <= lo.label_flip < 0.5:
        bad("loss.label_noise and loss.label_flip must be in [0, 0.5)")
    if not 0.0 < lo.g_topk <= 1.0 or not 0.0 < lo.g_topk_gamma <= 1.0:  # NaN too
        bad(f"loss.g_topk={lo.g_topk}, loss.g_topk_gamma={lo.g_topk_gamma}; both in (0, 1]: the fraction of each "
            "fake batch G learns from (1 = all, 0.5 is typical) and its decay per epoch (0.99 is typical)")
    if not lo.ms_weight >= 0:  # NaN too
        bad(f"loss.ms_weight={lo.ms_weight}; the mode-seeking term's weight, >= 0 (0 = off, 1 in MSGAN)")
    if not lo.ms_tau >= 0:
        bad(f"loss.ms_tau={lo.ms_tau}; the mode-seeking bound, >= 0 (0 = unbounded as in MSGAN, ~0.33 = "
            "real same-class Fashion-MNIST pairs)")
    if lo.r1_every < 1:
        bad(f"loss.r1_every={lo.r1_every}; R1 every N-th D step, N >= 1 (1 = every step, 16 in StyleGAN2)")
    if lo.instance_noise < 0 or lo.r1_gamma < 0 or lo.gp_weight < 0 or lo.clip_value < 0:
        bad("loss.instance_noise, loss.r1_gamma, loss.gp_weight and loss.clip_value must be >= 0")
    if not LOSSES[lo.name].uses_targets and (lo.real_label != 1.0 or lo.label_noise or lo.label_flip
                                             or lo.swap_labels):
        bad(f"loss.name={lo.name} has no real/fake targets, so label smoothing, noise, flipping and "
            "swap_labels do not apply; use bce, ns or lsgan")
    if LOSSES[lo.name].penalty is not None:
        # the penalty differentiates each critic output by its own input only
        mixing = [k for k, on in (("model.d_norm=batch", m.d_norm == "batch"), ("model.mbstd=true", m.mbstd),
                                  ("model.minibatch_disc>0", m.minibatch_disc > 0)) if on]
        if mixing:
            bad(f"loss.name={lo.name} penalises each sample's gradient, but {', '.join(mixing)} makes D's "
                "output for one image depend on the rest of the batch; turn it off (model.d_norm=none, "
                "model.mbstd=false, model.minibatch_disc=0) or use another loss")
