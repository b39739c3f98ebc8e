"""Starting a run from trained weights: fine-tuning (`train.init_from`) and the evaluator D
(`model.d_init=evaluator`).

`gankit train --init-from RUN` (= `--set train.init_from=RUN`) starts G, D and the EMA G of
a new run from RUN's last checkpoint (or a named checkpoint file): the weights only, never
its optimiser state, step, RNG or best FID, so the new run is an ordinary run at step 0 with
fresh optimisers, e.g. MNIST -> Fashion-MNIST or Fashion-MNIST -> a folder of the user's own
images.  The source is recorded in config.json (train.init_from) and as an `init_from` event.
`model.freeze_d_layers=K` (models/freeze.py) then keeps D's first K conv blocks as loaded.

`model.d_init=evaluator` loads the body of the evaluator D (models/evaluator_d.py) from the
shipped evaluator classifier of the run's dataset (metrics/evaluator.py finds it), as the
Vogue tutorial suggests for a pretrained D; its head starts fresh.  With train.init_from as
well, the source run's D (already such a D) is what loads.

`check_transfer` runs in the CLI before a run directory exists, from file headers alone, so a
source that does not fit leaves nothing behind; `initialise` runs in train() right after the
TrainingState is created, never on resume (the checkpoint has the weights then, and the
source may be gone), and before DDP copies rank 0's weights to the other ranks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.config import Config
from gankit.data import ImageData
from gankit.data import num_classes as count_classes
from gankit.errors import GankitError
from gankit.models import build_models
from gankit.models.evaluator_d import evaluator_d_widths
from gankit.runs.checkpoint import load_state, load_weights, peek_state

# model keys that change the shape of some weight: the ones worth naming when layers do not fit
_ARCH_KEYS = ("z_dim", "g_width", "d_width", "minibatch_disc", "minibatch_disc_dim", "mbstd", "g_norm", "d_norm",
              "w_dim", "mapping_layers")
_SHOWN = 6  # mismatching tensors listed before "and N more"


def source_checkpoint(init_from: str) -> Path:
    """The checkpoint train.init_from names: RUN/checkpoints/last.safetensors, or a file itself."""
    p = Path(init_from).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        ckpt = p / "checkpoints" / "last.safetensors"
        if ckpt.is_file():
            return ckpt
        raise GankitError(f"--init-from {init_from}: no checkpoint at {ckpt}; give a run directory that has "
                          "saved one (it does after its first epoch, or with train.checkpoint_every_steps) or a "
                          "checkpoint file")
    raise GankitError(f"--init-from {init_from}: no such run directory or checkpoint file")


def _shape(v: Any) -> tuple | None:
    if isinstance(v, torch.Tensor):
        return tuple(v.shape)
    return tuple(v) if isinstance(v, (tuple, list)) and all(type(d) is int for d in v) else None


def _misfits(net: nn.Module, weights: Any, what: str) -> list[str]:
    """'D.features.0.weight [8,1,4,4] vs [8,3,4,4]' (source vs this run) for every tensor that differs."""
    have = {k: _shape(v) for k, v in weights.items()} if isinstance(weights, dict) else {}
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}

    def fmt(s: tuple | None) -> str:
        return "[" + ",".join(map(str, s)) + "]" if s is not None else "(not a tensor)"

    out = [f"{what}.{k} {fmt(have[k])} vs {fmt(s)}" for k, s in own.items() if k in have and have[k] != s]
    out += [f"{what}.{k} only in this run" for k in own if k not in have]
    out += [f"{what}.{k} only in the source" for k in have if k not in own]
    return out


def check_init_from(cfg: Config, img_shape: tuple[int, int, int], num_classes: int) -> Path:
    """The source checkpoint of train.init_from, after checking (from its header alone) that its
    G and D fit the models cfg builds for this data; else one GankitError naming the layers."""
    who = f"--init-from {cfg.train.init_from}"
    ckpt = source_checkpoint(cfg.train.init_from)
    state = peek_state(ckpt)  # a newer format or a damaged file: one line from checkpoint.py
    missing = [k for k in ("config", "img_shape", "class_names", "G", "D") if k not in state]
    if missing or not isinstance(state["config"], dict):
        raise GankitError(f"{who}: {ckpt} is not a gankit training checkpoint (it lacks "
                          f"{', '.join(missing) or 'a config'}); give a run directory or its checkpoint file")
    src = state["config"].get("model", {}) if isinstance(state["config"].get("model"), dict) else {}
    now = cfg.to_dict()["model"]
    # the differences that change every layer get their own sentence rather than a list of all of them
    if bool(src.get("conditional", False)) != cfg.model.conditional:
        if cfg.model.conditional:
            raise GankitError(f"{who}: the source run is unconditional (model.conditional=false) and this run is "
                              "conditional; set model.conditional=false, or start from a conditional run")
        raise GankitError(f"{who}: the source run is conditional (model.conditional=true) and this run is not; "
                          "set model.conditional=true (on labelled data), or start from an unconditional run")
    for key in ("name", "d_init"):
        if key in src and src[key] != now[key]:
            raise GankitError(f"{who}: the source run has model.{key}={src[key]}, this run model.{key}={now[key]}; "
                              f"set model.{key}={src[key]} (the weights belong to that model)")
    with torch.random.fork_rng(devices=[]):  # building for the check must not move the run's RNG
        G, D = build_models(cfg.model, img_shape, num_classes)
    problems = _misfits(G, state["G"], "G") + _misfits(D, state["D"], "D")
    if problems:
        layers = {p.split(" ")[0].rsplit(".", 1)[0] for p in problems}
        shown = ", ".join(problems[:_SHOWN]) + (f", and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else "")
        notes = []
        src_shape = _shape(state["img_shape"])
        if src_shape is not None and src_shape != tuple(img_shape):
            notes.append(f"the source has {'x'.join(map(str, src_shape))} images, this run "
                         f"{'x'.join(map(str, img_shape))}")
        if cfg.model.conditional and isinstance(state["class_names"], list) and \
                count_classes(state["class_names"]) != num_classes:
            notes.append(f"the source has {len(state['class_names'])} classes, this run {num_classes} (data.classes)")
        changed = [f"model.{k}={src[k]!r} (this run {now[k]!r})" for k in _ARCH_KEYS if k in src and src[k] != now[k]]
        if changed:
            notes.append("the source has " + ", ".join(changed))
        raise GankitError(f"{who}: {len(layers)} layers do not fit (source vs this run): {shown}; "
                          + "".join(n + "; " for n in notes)
                          + "use the same model, widths and channels as the source (data.channels=1/3, data.resolution)")
    return ckpt


def check_d_init(cfg: Config, img_shape: tuple[int, int, int], class_names: list[str]):
    """The evaluator whose body model.d_init=evaluator loads, checked to fit D; else one GankitError."""
    # imported here: gankit.metrics pulls in scipy, which runs without this switch never need
    from gankit.metrics.evaluator import (
        EVALUATOR_DATASETS,
        evaluator_key,
        find_evaluator_files,
        load_evaluator,
        weight_dirs,
    )

    key = evaluator_key(cfg.data.dataset, class_names)
    if key is None:
        served = ", ".join(sorted({d for ds in EVALUATOR_DATASETS.values() for d in ds} - {"folder"}))
        raise GankitError(f"model.d_init=evaluator: there is no evaluator classifier for data.dataset="
                          f"{cfg.data.dataset} with these classes (evaluators serve {served} and CIFAR-10 cats+dogs "
                          "folders); use model.d_init=none")
    files = find_evaluator_files(key)
    if files is None:
        raise GankitError(f"model.d_init=evaluator: the {key} evaluator is not installed (looked in "
                          f"{', '.join(map(str, weight_dirs()))}); train it with `gankit evaluator train {key}`, "
                          "or use model.d_init=none")
    ev = load_evaluator(*files)
    a = ev.net.arch
    c, h, w = img_shape
    if (a["in_ch"], a["size"], a["size"]) != (c, h, w):
        raise GankitError(f"model.d_init=evaluator: the {key} evaluator takes {a['in_ch']}x{a['size']}x{a['size']} "
                          f"images and this run's are {c}x{h}x{w}; set data.channels={a['in_ch']} and "
                          f"data.resolution={a['size']}, or use model.d_init=none")
    widths = evaluator_d_widths(cfg.model, h)
    if list(a["widths"]) != widths:
        ok = [a["widths"][0] * 2**i for i in range(len(widths))] == list(a["widths"])
        fix = f"set model.d_width={a['widths'][0]}" if ok else "use model.d_init=none"
        raise GankitError(f"model.d_init=evaluator: the {key} evaluator's conv widths are "
                          f"{','.join(map(str, a['widths']))} and D's would be {','.join(map(str, widths))} "
                          f"(model.d_width={cfg.model.d_width}); {fix}")
    return ev


def check_transfer(cfg: Config, data: ImageData) -> None:
    """Everything initialise will need, checked before a run directory exists."""
    shape = tuple(int(s) for s in data.images.shape[1:])
    if cfg.train.init_from:
        check_init_from(cfg, shape, data.num_classes)
    elif cfg.model.d_init == "evaluator":
        check_d_init(cfg, shape, list(data.class_names))


def initialise(state, cfg: Config, data: ImageData, log: Callable[..., None] | None = None) -> None:
    """Load train.init_from's or the evaluator's weights into a fresh TrainingState (step 0);
    `log(kind, **fields)` records what was loaded (rank 0's run.log_event)."""
    shape = tuple(int(s) for s in data.images.shape[1:])
    if cfg.train.init_from:
        ckpt = check_init_from(cfg, shape, data.num_classes)
        source = load_state(ckpt)
        load_weights(state.G, source["G"], "G", ckpt)
        load_weights(state.D, source["D"], "D", ckpt)
        if state.ema is not None:  # the source's average when it kept one, else its G (as EMA starts: a copy)
            load_weights(state.ema.model, source["G_ema"] if source.get("G_ema") else source["G"], "G_ema", ckpt)
        if log:
            log("init_from", step=0, source=str(ckpt.resolve()), source_step=int(source["step"]),
                source_dataset=source["config"].get("data", {}).get("dataset"),
                frozen_d_blocks=cfg.model.freeze_d_layers)
    elif cfg.model.d_init == "evaluator":
        ev = check_d_init(cfg, shape, list(data.class_names))
        body = {k[len("body."):]: v for k, v in ev.net.state_dict().items() if k.startswith("body.")}
        load_weights(state.D.body, body, "D body", f"evaluator {ev.key}")
        if log:
            log("d_init", step=0, evaluator=ev.key, evaluator_sha256=ev.sha256, tensors=len(body),
                frozen_d_blocks=cfg.model.freeze_d_layers)
