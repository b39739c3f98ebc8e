"""`Upkeep`: the loop's maintenance, once per step and once per epoch (edm's "once per tick").

The loop (loop.py) computes steps; everything it does *about* them lives here, in one object
with no closures: checkpoints (every epoch, every N steps / M minutes, `best` after a better
FID), health (a non-finite loss, gradient or weight; a collapse warning that lasts), the
rollbacks they may trigger, the periodic evaluation, the sample grids, and why the run stops
(`stop_reason`).  `after_step` returns True when it rolled the run back, so the loop starts
its epoch over from the checkpoint's step.  What a rollback changes (learning rates, label
smoothing, instance noise) goes into the training state's `overrides`, never into the run's
config, which is written once before training starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import torch

from gankit.config import Config
from gankit.errors import GankitError
from gankit.runs.layout import RunDir
from gankit.runs.tracking import sync as sync_tracker
from gankit.runtime.distributed import Dist, agree, rank_seed
from gankit.training.clock import Clock
from gankit.training.ema import Sampler
from gankit.training.health import (
    CollapseWatch,
    apply_changes,
    collapse_fix,
    divergence,
    divergence_message,
    lowered_lrs,
)
from gankit.training.logger import Logger, save_samples
from gankit.training.monitor import TrainingMonitor
from gankit.training.plan import Plan
from gankit.training.state import Rollbacks, TrainingState


@dataclass(frozen=True)
class Session:
    """What one training session's upkeep works with, as train() set it up."""

    cfg: Config  # the run's config, read-only (rollbacks change the state's overrides)
    run: RunDir
    state: TrainingState
    sampler: Sampler  # the EMA (or plain) G as grids and evaluations see it
    monitor: TrainingMonitor | None  # rank 0's periodic FID and collapse monitor; None on other ranks
    log: Logger
    clock: Clock  # training seconds over every session (train.budget)
    dist: Dist
    interrupt: Any  # loop.Interrupt: .requested is set by SIGINT/SIGTERM
    plan: Plan  # steps per epoch, total steps
    resumed: bool


class Upkeep:
    def __init__(self, session: Session):
        s = session
        self.cfg, self.t, self.run, self.state, self.sampler = s.cfg, s.cfg.train, s.run, s.state, s.sampler
        self.monitor, self.log, self.clock, self.dist, self.interrupt = s.monitor, s.log, s.clock, s.dist, s.interrupt
        self.steps_per_epoch, self.total_steps = s.plan.steps_per_epoch, s.plan.total_steps
        self.class_names = s.state.class_names
        state, clock, dist = s.state, s.clock, s.dist
        self.saved_step = state.step if s.resumed else None  # the step of the last good checkpoint
        self.saved_at = clock.spent()  # when it was saved (train.checkpoint_every_minutes)
        self.watch = CollapseWatch(self.t.collapse_patience)
        self.pending_save = self.stopped_early = False
        self.out_of_time, = agree(clock.time_up(), dist=dist)  # a resumed run may have spent it already
        if dist.main and self.t.on_divergence == "rollback" and self.saved_step is None:
            self.checkpoint()  # step 0: a run that diverges early has somewhere to return to

    # -- why to stop ---------------------------------------------------------------------

    def stop_reason(self) -> str | None:
        if self.interrupt.requested:
            return "interrupted"
        if self.out_of_time:
            return "budget_spent"
        if self.stopped_early:
            return "early_stop"
        return "finished" if self.state.step >= self.total_steps else None

    def epoch_ends(self, i: int) -> bool:
        """Whether the epoch's upkeep runs now: `i` batches done, or the run stops mid-epoch."""
        return (i == self.steps_per_epoch or self.state.step >= self.total_steps or self.interrupt.requested
                or self.out_of_time)

    # -- checkpoints ---------------------------------------------------------------------

    def checkpoint(self, tag: str = "last") -> None:
        state = self.state
        state.seconds = self.clock.spent()
        self.sampler(state.step)  # the EMA G is stored with batch-norm statistics that fit its weights
        state.save(self.run.checkpoints / f"{tag}.safetensors")
        if tag == "last":
            self.saved_step, self.saved_at = state.step, state.seconds

    def save_due(self, step: int) -> bool:  # the mid-epoch checkpoints: a kill loses at most this much work
        t = self.t
        return bool((t.checkpoint_every_steps and step % t.checkpoint_every_steps == 0)
                    or (t.checkpoint_every_minutes and self.clock.spent() - self.saved_at >= 60 * t.checkpoint_every_minutes))

    # -- once per step -------------------------------------------------------------------

    def after_step(self, i: int, d_loss: torch.Tensor, g_loss: torch.Tensor | None, fake: torch.Tensor) -> bool:
        """Collapse watch, health, mid-epoch checkpoint after the step that made `i` batches of the
        epoch; True when the run was rolled back (the loop restarts its epoch)."""
        t, step, log = self.t, self.state.step, self.log
        collapsed = None
        if log.last_row is not None:  # this step ends a log interval (rank 0): its row, the monitor's signals
            messages = self.monitor.observe(step, log.last_row, fake.detach())
            log.write_row()
            for message in messages:
                log.warn(step, message)
            collapsed = self.watch.update(self.monitor.judge.active)

        # health: a non-finite loss every step; gradients and weights at log rows and before saving
        due = self.dist.main and self.save_due(step)
        time_up = self.clock.time_up()
        check = (log.last_row is not None or due or i == self.steps_per_epoch or step >= self.total_steps
                 or self.interrupt.requested or time_up)
        diag = divergence(self.state, d_loss, g_loss, check)
        # every rank stops at the same step, whichever rank saw the reason
        stop, bad_d, bad_g, self.out_of_time = agree(self.interrupt.requested, bool(diag and diag[0] == "D"),
                                                     bool(diag and diag[0] == "G"), time_up, dist=self.dist)
        self.interrupt.requested = stop
        if bad_d or bad_g:
            return self._diverged("D" if bad_d else "G", diag)
        if collapsed and t.on_collapse == "rollback" and self.state.rollback.count < t.max_rollbacks:
            best = self.run.best_checkpoint
            self.roll_back(best if best.is_file() else self.run.last_checkpoint,
                           f"the collapse monitor's {collapsed} warning lasted {t.collapse_patience} log rows",
                           collapse_fix(self.state.effective_config(), collapsed))
            return True

        # checkpoint (mid-epoch; the end of an epoch saves in after_epoch)
        if due and i < self.steps_per_epoch and step < self.total_steps and not stop and not self.out_of_time:
            self.checkpoint()
        self.pending_save = self.pending_save or (due and i == self.steps_per_epoch)
        return False

    def _diverged(self, net: str, diag: tuple[str, str] | None) -> bool:
        t, step = self.t, self.state.step
        what = diag[1] if diag and diag[0] == net else "loss"
        if self.dist.main:
            self.run.log_event("diverged", step=step, network=net, quantity=what, loss=self.cfg.loss.name)
        if t.on_divergence == "rollback" and self.state.rollback.count < t.max_rollbacks:
            self.roll_back(self.run.last_checkpoint, f"{net}'s {what} diverged",
                           lowered_lrs(self.state.effective_config(), t.rollback_lr_factor))
            return True
        raise GankitError(divergence_message(step, net, what, self.cfg.loss.name, self.saved_step,
                                             self.state.rollback.count, t.on_divergence))

    def roll_back(self, source: Path, reason: str, changes: dict[str, Any]) -> None:
        """Return to a checkpoint, apply `changes` to the optimisers and the state's overrides, go on."""
        state = self.state
        count, from_step, overrides = state.rollback.count + 1, state.step, dict(state.rollback.overrides)
        state.load(source)  # weights, optimisers, every RNG and the step of that checkpoint
        state.rollback = Rollbacks(count, overrides)  # changes accumulate, whichever checkpoint
        apply_changes(state.effective_config(), state, changes)
        self.run.truncate_logs(state.step)  # the rows after it describe weights that are gone
        self.run.log_event("rollback", step=from_step, to_step=state.step, reason=reason, checkpoint=source.name,
                           changes=changes, rollbacks=count)
        rank_seed(self.t.seed, self.dist, state.step)
        self.sampler.fresh_at = -1
        self.monitor.reset()
        self.watch.reset()
        self.log.restart()
        self.checkpoint()  # so a kill now resumes with the changed settings and the count
        print(f"gankit: warning: {reason} at step {from_step}; rolled back to step {state.step} "
              f"({source.name}) with {', '.join(f'{k}={v:.3g}' for k, v in changes.items())}", file=sys.stderr)

    # -- once per epoch ------------------------------------------------------------------

    def after_epoch(self, epoch: int, epoch_done: bool, device: torch.device) -> None:
        """Evaluation, sample grids and the checkpoint at the end of an epoch (or of the run)."""
        t, state = self.t, self.state
        if not self.dist.main:  # rank 0 alone samples, evaluates and saves
            self.log.end_epoch()
            return
        # evaluate
        if epoch_done and t.eval_every and (epoch + 1) % t.eval_every == 0:
            self._evaluate(device)
        finished = state.step >= self.total_steps or self.out_of_time or self.stopped_early
        # samples
        if (epoch_done and (epoch + 1) % t.sample_every == 0) or finished or self.interrupt.requested:
            save_samples(self.run, self.sampler(state.step), self.cfg, state.prior, state.step, self.steps_per_epoch,
                         self.class_names, self.log.writer)
        # checkpoint
        if ((epoch_done and (epoch + 1) % t.checkpoint_every == 0) or finished or self.interrupt.requested
                or self.pending_save):
            self.checkpoint()
            self.pending_save = False
        self.log.end_epoch()
        # tracking: the epoch's rows and events into MLflow (train.track; nothing when off)
        sync_tracker(self.run, self.cfg)

    def _evaluate(self, device: torch.device) -> None:
        t, state = self.t, self.state
        fid = self.monitor.evaluate(self.sampler(state.step), state.step, state.step / self.steps_per_epoch, device)
        if fid is not None and (state.best_fid is None or fid < state.best_fid):
            state.best_fid, state.evals_since_best = fid, 0
            if t.keep_best:
                self.checkpoint("best")
        elif fid is not None:
            state.evals_since_best += 1
            if t.early_stop_patience and state.evals_since_best >= t.early_stop_patience:
                self.stopped_early = True
                self.run.log_event("early_stop", step=state.step, best_fid=state.best_fid,
                                   evaluations_without_improvement=state.evals_since_best)

    def finish(self) -> None:
        """The stop's event (rank 0)."""
        state, reason = self.state, self.stop_reason()
        if not self.dist.main:
            return
        if reason == "interrupted":
            self.run.log_event("interrupted", step=state.step)
        elif reason == "budget_spent":
            self.run.log_event("budget_spent", step=state.step, seconds=round(state.seconds, 1))
        elif reason == "early_stop":
            print(f"gankit: early stop at step {state.step}: no better FID in {self.t.early_stop_patience} "
                  f"evaluations (best {state.best_fid:.2f}, checkpoints/best.safetensors)", file=sys.stderr)
