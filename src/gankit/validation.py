"""Config validation: impossible or incompatible settings are rejected with a reason,
before any data is loaded or any directory created.  Choices are checked against the
registries themselves, so a new loss or model is valid the moment it is registered.
"""

from __future__ import annotations

from .augment import AUGMENTS
from .config import Config, budget_seconds
from .data import DATASETS
from .errors import GankitError
from .losses import LOSSES
from .models import MODELS
from .optim import OPTIMIZERS

def check(cfg: Config) -> Config:
    def bad(msg: str) -> None:
        raise GankitError(f"invalid config: {msg}")

    def one_of(key: str, value: str, choices) -> None:
        if value not in choices:
            bad(f"{key}={value!r}; choose one of: {', '.join(sorted(choices))}")

    d, m, lo, o, t = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train
    one_of("data.dataset", d.dataset, DATASETS)
    one_of("data.split", d.split, ("train", "test"))
    one_of("data.range", d.range, ("-1,1", "0,1"))
    one_of("model.name", m.name, MODELS)
    one_of("loss.name", lo.name, LOSSES)
    one_of("optim.name", o.name, OPTIMIZERS)
    one_of("optim.lr_decay", o.lr_decay, ("none", "linear"))
    one_of("train.amp", t.amp, ("none", "bf16", "fp16"))
    one_of("model.g_norm", m.g_norm, ("batch", "none"))
    one_of("model.d_norm", m.d_norm, ("batch", "none"))
    one_of("model.g_act", m.g_act, ("relu", "leaky_relu"))
    one_of("model.d_act", m.d_act, ("relu", "leaky_relu"))
    one_of("model.out_act", m.out_act, ("tanh", "sigmoid"))
    for a in t.diffaugment:
        one_of("train.diffaugment", a, AUGMENTS)
    if d.dataset == "folder" and not d.path:
        bad("data.dataset=folder needs data.path=DIR_OR_ZIP")
    if d.limit < 0 or d.resolution < 0:
        bad("data.limit and data.resolution must be >= 0")
    if d.channels not in (0, 1, 3):
        bad(f"data.channels={d.channels}; use 1, 3 or 0 (native)")
    if (m.out_act == "tanh") != (d.range == "-1,1"):
        bad(f"model.out_act={m.out_act} produces a different range than data.range={d.range}; "
            "use tanh with -1,1 or sigmoid with 0,1")
    if m.z_dim < 1 or m.g_width < 1 or m.d_width < 1:
        bad("model.z_dim, model.g_width and model.d_width must be >= 1")
    if not 0.0 <= m.d_dropout < 1.0:
        bad(f"model.d_dropout={m.d_dropout}; must be in [0, 1)")
    if m.minibatch_disc < 0 or m.minibatch_disc_dim < 1:
        bad("model.minibatch_disc must be >= 0 and model.minibatch_disc_dim >= 1")
    if (m.minibatch_disc or m.mbstd) and t.batch_size < 2:
        bad("minibatch discrimination / mbstd compare samples within a batch: train.batch_size must be >= 2")
    if t.epochs < 1 or t.batch_size < 1 or t.n_critic < 1:
        bad("train.epochs, train.batch_size and train.n_critic must be >= 1")
    budget_seconds(t.budget)  # raises on a malformed duration
    if t.update not in ("alternating", "simultaneous"):
        bad(f"train.update={t.update!r}: use alternating or simultaneous")
    if t.update == "simultaneous" and t.n_critic != 1:
        bad("train.update=simultaneous takes both gradients from one step: it needs train.n_critic=1")
    if t.log_every < 1 or t.sample_every < 1 or t.checkpoint_every < 1:
        bad("train.log_every, train.sample_every and train.checkpoint_every must be >= 1")
    if not 0.0 < t.ema_decay < 1.0:
        bad(f"train.ema_decay={t.ema_decay}; must be in (0, 1)")
    if o.g_lr <= 0 or o.d_lr <= 0:
        bad("optim.g_lr and optim.d_lr must be > 0")
    if not (0 <= o.beta1 < 1 and 0 <= o.beta2 < 1):
        bad("optim.beta1 and optim.beta2 must be in [0, 1)")
    if not 0.0 < lo.real_label <= 1.0:
        bad(f"loss.real_label={lo.real_label}; must be in (0, 1] (0.9 is typical smoothing)")
    if not 0.0 <= lo.label_noise < 0.5 or not 0.0 <= lo.label_flip < 0.5:
        bad("loss.label_noise and loss.label_flip must be in [0, 0.5)")
    if lo.instance_noise < 0 or lo.r1_gamma < 0 or lo.gp_weight < 0:
        bad("loss.instance_noise, loss.r1_gamma and loss.gp_weight must be >= 0")
    uses_targets = LOSSES[lo.name].uses_targets
    if not uses_targets and (lo.real_label != 1.0 or lo.label_noise or lo.label_flip or lo.swap_labels):
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
    return cfg
