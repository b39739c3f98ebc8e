"""Config validation: impossible or incompatible settings are rejected with a reason,
before any data is loaded or any directory created.  Choices are checked against the
registries themselves, so a new loss or model is valid the moment it is registered.

`check(cfg)` checks the choices, then every numeric key against its range (launch/ranges.py,
the one place a range lives), then the rules that read more than one key.  A model's own
rules are its registration's (models.check_model: each ModelSpec's check, the evaluator D's,
FreezeD's); shape rules are raised when the model is built for the data (the pre-flight).
"""

from __future__ import annotations

import re

from gankit.config import Config, budget_seconds
from gankit.data import DATASETS
from gankit.data.decode import BACKGROUNDS, CROPS
from gankit.data.diffaugment import AUGMENTS
from gankit.errors import GankitError, did_you_mean
from gankit.launch.ranges import RANGES
from gankit.models import MODELS, check_model
from gankit.runs.tracking import TRACKERS, uri_problem
from gankit.training.ada import unservable
from gankit.training.augment_real import REAL_AUGMENTS
from gankit.training.losses import LOSSES
from gankit.training.optim import OPTIMIZERS


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
    one_of("train.amp", t.amp, ("none", "bf16", "fp16", "auto"))
    for key in ("g_norm", "d_norm"):
        one_of(f"model.{key}", getattr(m, key), ("batch", "none"))
    for key in ("g_act", "d_act"):
        one_of(f"model.{key}", getattr(m, key), ("relu", "leaky_relu"))
    one_of("model.out_act", m.out_act, ("tanh", "sigmoid"))
    for a in [] if t.diffaugment == "auto" else t.diffaugment:
        one_of("train.diffaugment", a, AUGMENTS)
    _ranges(cfg)
    _data(cfg)
    _transfer(cfg)
    _model(cfg)
    _train(cfg)
    _loss(cfg)
    _device(cfg)
    return cfg


def _ranges(cfg: Config) -> None:
    for key, rng in RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value == "auto":  # resolved from the data in the pre-flight (model.d_width)
            continue
        problem = rng.problem(key, value)
        if problem:
            bad(problem)


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
    if d.dataset == "folder" and not d.path:
        bad("data.dataset=folder needs data.path=DIR_OR_ZIP")
    if d.channels not in (0, 1, 3):
        bad(f"data.channels={d.channels}; use 1, 3 or 0 (native)")
    if (cfg.model.out_act == "tanh") != (d.range == "-1,1"):
        bad(f"model.out_act={cfg.model.out_act} produces a different range than data.range={d.range}; "
            "use tanh with -1,1 or sigmoid with 0,1")


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


def _model(cfg: Config) -> None:
    m, t = cfg.model, cfg.train
    if (m.minibatch_disc or m.mbstd) and t.batch_size < 2:
        bad("minibatch discrimination / mbstd compare samples within a batch: train.batch_size must be >= 2")
    if m.pack > 1:  # PacGAN: D judges stacks of model.pack samples
        if t.batch_size % m.pack:
            bad(f"model.pack={m.pack} stacks {m.pack} images for D; it must divide train.batch_size={t.batch_size}")
        if m.conditional is True:
            bad(f"model.pack={m.pack} shows D stacks of {m.pack} samples, which have no one label; set "
                "model.conditional=false (or auto, which packing turns off)")
        if m.d_init != "none" or m.freeze_d_layers:
            bad(f"model.pack={m.pack} builds D for {m.pack} stacked images, so no pretrained D fits it; set "
                "model.d_init=none and model.freeze_d_layers=0")


def _train(cfg: Config) -> None:
    t = cfg.train
    budget_seconds(t.budget)  # raises on a malformed duration
    if t.update not in ("alternating", "simultaneous"):
        bad(f"train.update={t.update!r}: use alternating or simultaneous")
    if t.update == "simultaneous" and t.n_critic != 1:
        bad("train.update=simultaneous takes both gradients from one step: it needs train.n_critic=1")
    one_of("train.on_divergence", t.on_divergence, ("stop", "rollback"))
    one_of("train.on_collapse", t.on_collapse, ("warn", "rollback"))
    one_of("train.eval_evaluator", t.eval_evaluator, ("auto", "ssl", "none"))
    one_of("train.track", t.track, TRACKERS)
    problem = uri_problem(t.track_uri) if t.track_uri else None
    if problem:
        bad(problem)
    why = unservable(cfg) if t.ada is True else None  # auto turns itself off instead (ada.resolve)
    if why:
        bad(why)
    if t.early_stop_patience and not t.eval_every:
        bad("train.early_stop_patience counts periodic evaluations: set train.eval_every=N (epochs) as well")


def _loss(cfg: Config) -> None:
    m, lo = cfg.model, cfg.loss
    if lo.r2_gamma > 0 and not LOSSES[lo.name].zero_centred:
        bad(f"loss.r2_gamma penalises D's gradient at the fakes toward 0, which loss.name={lo.name}'s critic has no "
            "form for (its gradient should be ~1: loss.gp_weight); use loss.name=rpgan, ns or hinge with R2")
    if LOSSES[lo.name].pair is not None and lo.clip_value > 0:
        bad(f"loss.name={lo.name} scores pairs of a real and a fake with a softplus, which needs no weight clipping; "
            "set loss.clip_value=0")
    if LOSSES[lo.name].pair is not None and lo.g_topk < 1:
        bad(f"loss.name={lo.name} scores each fake against its real partner; top-k G training (loss.g_topk) picks "
            "fakes alone: set loss.g_topk=1")
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
