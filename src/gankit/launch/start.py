"""`start_run`: the one way from a validated Config to a running `train()`.

The CLI (`gankit train`, `--resume`) and the sweep's trials both start runs here, so both get
the same pre-flight and the same run directory:

1. pre-flight (`prepare`): the data loads, `model.conditional=auto` is resolved from its
   classes (and `model.d_width=auto` from that), `train.ada=auto` from its size and
   `train.diffaugment=auto` from its channels, the model builds for its shape, the batch fits
   the data and the processes, an `--init-from` / `model.d_init=evaluator` source fits; a
   resume's checkpoint is one this gankit reads and fits the config.  Every failure is one
   GankitError before anything is written: a failed start leaves no run directory behind;
2. the run directory (numbered under `--out`, or a chosen path for a study's trial);
3. the evaluator: a run with periodic evaluation on data no shipped evaluator serves makes
   this data's evaluator now (once, then cached by the data's fingerprint), so its FID curve,
   best checkpoint and early stop work from the first evaluation;
4. config.json, written once (a resume rewrites it only when `--epochs`/`--budget` changed it);
   from here on the config is read-only (what a rollback changes lives in the training state);
5. `train()`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
import warnings
from pathlib import Path

from gankit.config import Config
from gankit.data import ImageData, load_dataset
from gankit.data.cache import check_cache
from gankit.errors import GankitError, GankitWarning
from gankit.metrics.evaluate import reference_data
from gankit.metrics.evaluator_folder import evaluator_or_make
from gankit.models import check_buildable, resolve_auto_model
from gankit.runs.layout import RunDir, create_run_dir, run_dir_at
from gankit.runs.checkpoint import peek_state
from gankit.runs.load import check_resumable
from gankit.runs.tracking import check_reachable
from gankit.runs.tracking import sync as sync_tracker
from gankit.runtime.device import pick_device
from gankit.runtime.distributed import Dist, broadcast
from gankit.runtime.precision import check_amp, resolve_amp
from gankit.training.ada import resolve as resolve_augment
from gankit.training.loop import train
from gankit.training.plan import plan
from gankit.training.transfer import check_transfer
from gankit.util.names import slug
from gankit.util.paths import check_name, writable_dir


def prepare(cfg: Config, data_dir: str | None = None, data: ImageData | None = None, resume_from: RunDir | None = None,
            dist: Dist = Dist()) -> tuple[Config, ImageData]:
    """The pre-flight: returns (cfg, data) with every `auto` resolved in cfg in place (`resolve`),
    or raises a GankitError before anything is written."""
    if resume_from is not None and not resume_from.last_checkpoint.is_file():
        raise GankitError(f"{resume_from.path}: no checkpoint to resume from; start a new run")
    data = data if data is not None else load_dataset(cfg.data, data_dir)
    resolve(cfg, data)
    check_amp(cfg.train.amp, pick_device(cfg.train.device))  # the hardware the config asks for is here
    check_buildable(cfg.model, tuple(data.images.shape[1:]), data.num_classes)
    steps_per_epoch = plan(cfg, data, dist).steps_per_epoch
    if resume_from is not None:  # a newer format, weights of another shape, a damaged log: one line, nothing written
        check_resumable(resume_from, cfg)
        resume_from.check_logs()
        check_more_epochs(resume_from, cfg, steps_per_epoch)
    else:  # --init-from / model.d_init=evaluator: the source fits (a resume has its weights already)
        check_transfer(cfg, data)
    return cfg, data


def check_more_epochs(run: RunDir, cfg: Config, steps_per_epoch: int) -> None:
    """A resume given --epochs no more than its checkpoint has done would train nothing and still
    rewrite config.json: refused in one line instead."""
    step = int(peek_state(run.last_checkpoint).get("step", 0))
    was = run.read_config().get("train", {}).get("epochs")
    if cfg.train.epochs != was and cfg.train.epochs * steps_per_epoch <= step:
        raise GankitError(f"--epochs {cfg.train.epochs}: {run.path} has already trained {step} steps, "
                          f"{step / steps_per_epoch:g} epochs of {steps_per_epoch} steps; give more epochs than that "
                          f"to continue it (its config says {was}), or leave --epochs out (nothing was changed)")


def resolve(cfg: Config, data: ImageData) -> Config:
    """Every `auto` setting from the data, in place, once (the only place they are resolved), before
    config.json records them: model.conditional from its classes and model.d_width from that;
    train.ada from its size and train.diffaugment from its channels (which gives way to ADA);
    and train.amp from the processor (bf16 where it has bf16 matrix units)."""
    resolve_auto_model(cfg.model, data.num_classes)
    resolve_augment(cfg, data)
    cfg.train.amp = resolve_amp(cfg.train.amp, pick_device(cfg.train.device))
    return cfg


def make_evaluator(cfg: Config, data: ImageData, data_dir: str | None) -> None:
    """Before step 0: the evaluator the periodic FID needs, trained now if no one has made it yet."""
    t = cfg.train
    if not t.eval_every or t.eval_evaluator == "none":
        return
    real = data if cfg.data.limit == 0 else reference_data(cfg, data_dir)
    evaluator_or_make(cfg.data.dataset, real, "ssl" if t.eval_evaluator == "ssl" else "auto")


def start_run(cfg: Config, *, out: str | Path = "runs", name: str | None = None, at: str | Path | None = None,
              resume: bool = False, data: ImageData | None = None, data_dir: str | None = None,
              dist: Dist = Dist(), announce: bool = True) -> tuple[RunDir, dict]:
    """Pre-flight, run directory, config.json once, train(); returns (run, train's summary).

    `at`: the run directory's path (a study's trial; with `resume`, the run to continue), else a
    new numbered `out/NNNN-name`.  Under torchrun every rank calls this; rank 0 alone writes."""
    existing = RunDir(Path(at)) if resume and at is not None else None
    # where it will write, before any work: a path that cannot be written fails now, in one line
    writable_dir(at if at is not None else out, "--resume" if existing else "--out")
    check_name(slug(name or cfg.preset))
    check_cache()
    if dist.main:
        check_tracker(cfg)
    cfg, data = prepare(cfg, data_dir, data, existing, dist)
    if dist.main:
        make_evaluator(cfg, data, data_dir)
    with contextlib.ExitStack() as held:  # rank 0 holds the run's training lock until train() returns
        if existing is not None:
            run = existing
            if dist.main:
                held.enter_context(run.training_lock())  # a second resume of it: one line, nothing changed
                if _changed(run, cfg):  # --epochs / --budget given to the resume
                    run.write_config(cfg)
        elif at is not None:
            run = run_dir_at(Path(at))
            if dist.main:
                held.enter_context(run.training_lock())
                run.write_config(cfg)
        else:
            made = None
            if dist.main:  # rank 0 makes the run directory and tells the others where it is
                made = create_run_dir(out, name or cfg.preset)
                held.enter_context(made.training_lock())
                made.write_config(cfg)
            run = RunDir(Path(broadcast(str(made.path) if made else None, dist)))
        if dist.main and announce:
            print(f"run directory: {run.path}" + (f" ({dist.world} processes)" if dist.active else ""),
                  file=sys.stderr)
        return _train(cfg, run, data, data_dir, resume, dist)


def _train(cfg: Config, run: RunDir, data: ImageData, data_dir: str | None, resume: bool,
           dist: Dist) -> tuple[RunDir, dict]:
    try:
        summary = train(cfg, run, data_dir=data_dir, resume=resume, data=data, dist=dist)
        if dist.main:
            sync_tracker(run, cfg, final=True)  # the artifacts; `gankit evaluate` sends its metrics after
        return run, summary
    except Exception as e:  # a bug, not bad input: its traceback is kept beside the run
        if not isinstance(e, (GankitError, OSError)) and dist.main:
            run.error_log.write_text(traceback.format_exc())
            e.gankit_log = str(run.error_log)
        raise


def check_tracker(cfg: Config) -> None:
    """train.track: the tracking server answers, or the run is refused before its directory
    exists (train.track_required, the default) or goes on with one warning."""
    why = check_reachable(cfg)
    if why is None:
        return
    if cfg.train.track_required:
        raise GankitError(f"{why}; start it, fix train.track_uri, or set train.track_required=false to train "
                          "without it (nothing was written)")
    warnings.warn(GankitWarning(f"{why}; training anyway (train.track_required=false): the run directory keeps "
                                "everything, and a later sync sends it"), stacklevel=2)


def _changed(run: RunDir, cfg: Config) -> bool:
    try:
        return json.loads(run.config_file.read_text()) != cfg.to_dict()
    except (OSError, json.JSONDecodeError):
        return True
