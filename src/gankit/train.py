"""The training loop: the only place that changes model state.

`train(cfg, run)` reads top to bottom: set-up, then per step `# D step`, `# G step`,
`# EMA`, `# log`, `# health`, `# checkpoint` (every N steps / M minutes), and per epoch
`# evaluate`, `# samples`, `# checkpoint`.  It schedules; the maths of each phase is in
phases.py, the state it advances in state.py (one object, saved and restored whole),
sampling in sampling.py, what to do about divergence and collapse in health.py, the
multi-process parts (torchrun) in distributed.py.  Everything it needs comes from the Config; everything it produces goes
into the run directory.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field

import torch

from .atomic import stale_temps
from .augment_real import augment_real, warn_leaks
from .clock import Clock
from .config import Config, budget_seconds
from .data import ImageData, load_dataset
from .distributed import Dist, agree, check_batch, place, rank_seed, shard, wrap
from .errors import GankitError
from .health import CollapseWatch, apply_changes, collapse_fix, divergence, divergence_message, lowered_lrs
from .imageio import to_float
from .losses import LOSSES, accuracy
from .models import resolve_conditional
from .phases import (DView, clip_value, clip_weights, d_objective, g_objective, g_objective_from, topk_keep,
                     with_mode_seeking)
from .precision import autocast, backward_and_step, check_amp, compiled, simultaneous_step
from .run_eval import TrainingMonitor
from .rundir import RunDir
from .sampling import Sampler
from .state import TrainingState
from .targets import d_targets
from .training_io import Logger, pick_device, save_samples
from .transfer import initialise


@dataclass
class Interrupt:
    """Set by SIGINT/SIGTERM; the loop finishes the current step, saves and stops."""

    requested: bool = False
    handlers: dict = field(default_factory=dict)

    def __enter__(self) -> "Interrupt":
        def handle(signum, frame):
            if self.requested:  # a second Ctrl-C stops at once
                raise KeyboardInterrupt
            self.requested = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.handlers[sig] = signal.signal(sig, handle)
            except ValueError:  # not the main thread: no signal handling
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, h in self.handlers.items():
            signal.signal(sig, h)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    # a pure function of (seed, epoch), so a resumed run sees the same batches
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def train(cfg: Config, run: RunDir, data_dir: str | None = None, resume: bool = False,
          data: ImageData | None = None, dist: Dist = Dist()) -> dict:
    """Train (or continue) the run described by cfg in `run`; returns a summary dict.

    Under torchrun every rank calls this with its `dist`; rank 0 alone writes to `run`."""
    t, lo = cfg.train, cfg.loss
    device = place(pick_device(t.device), dist)
    if t.threads:
        torch.set_num_threads(t.threads)
    data = data if data is not None else load_dataset(cfg.data, data_dir)
    n = len(data)
    if n < t.batch_size:
        raise GankitError(f"{data.name} has {n} images, fewer than train.batch_size={t.batch_size}; "
                          "lower the batch size or raise data.limit")
    steps_per_epoch = n // t.batch_size
    check_batch(t.batch_size, dist)
    if cfg.model.conditional == "auto":  # the run directory records what the data made of it
        resolve_conditional(cfg.model, max(len(data.class_names), 1))
        if dist.main:
            run.write_config(cfg)
    together = t.update == "simultaneous"  # G's and D's gradients from one forward pass
    if together and dist.active:
        raise GankitError("train.update=simultaneous runs in one process; under torchrun use train.update=alternating")
    if dist.active and "rollback" in (t.on_divergence, t.on_collapse):
        raise GankitError("train.on_divergence/on_collapse=rollback run in one process; under torchrun use stop/warn")
    total_steps = t.epochs * steps_per_epoch if not t.max_steps else min(t.max_steps, t.epochs * steps_per_epoch)
    check_amp(t.amp, device)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # fixed shapes: cuDNN may pick its fastest kernels
    clock = Clock(budget_seconds(t.budget))  # started after a resume restores the seconds spent
    state = TrainingState.create(cfg, data, device, total_steps, clock)
    if not resume:  # train.init_from / model.d_init=evaluator, before DDP copies rank 0's weights
        initialise(state, cfg, data, log=run.log_event if dist.main else None)
    G, D, opt_g, opt_d = state.G, state.D, state.opt_g, state.opt_d
    # what the steps call: DDP wrappers under torchrun, compiled with train.compile; the G step
    # calls D itself, not its DDP wrapper: D is frozen there and its gradients unused
    G_step, D_step, D_frozen = compiled((*wrap(G, D, device, dist), D), t.compile)
    loss = LOSSES[lo.name]
    clip = clip_value(loss, lo)

    def amp():  # a fresh autocast context per forward pass (train.amp)
        return autocast(t.amp, device)

    view = DView(tuple(t.diffaugment), lo.instance_noise, lo.instance_noise_steps, total_steps)
    if dist.main:
        warn_leaks(cfg.data)  # data.augment: what G will learn to imitate
    sampler = Sampler(G, state.ema, state.prior, t.batch_size, t.seed + 5, device)
    # before the RNG is restored
    monitor = TrainingMonitor(cfg, run, data, data_dir, total_steps, state.prior) if dist.main else None
    if resume:
        lost = state.load(run.last_checkpoint)
        if dist.main:
            run.truncate_logs(state.step)  # rows written after the checkpoint belong to lost work
            for tmp in stale_temps(run.checkpoints):  # a save a kill cut short
                tmp.unlink()
            run.log_event("resume", step=state.step, world_size=dist.world, **({"rng_not_restored": lost} if lost else {}))
    rank_seed(t.seed, dist, state.step)  # dropout, DiffAugment, instance noise: a stream per rank

    clock.start(state.seconds)
    spent = clock.spent  # training seconds over every session of this run

    saved_step = state.step if resume else None  # the step of the last good checkpoint
    saved_at = spent()  # when it was saved (train.checkpoint_every_minutes)

    def checkpoint(tag: str = "last") -> None:
        nonlocal saved_step, saved_at
        state.seconds = spent()
        sampler(state.step)  # the EMA G is stored with batch-norm statistics that fit its weights
        state.save(run.checkpoints / f"{tag}.safetensors")
        if tag == "last":
            saved_step, saved_at = state.step, state.seconds

    def save_due(step: int) -> bool:  # the mid-epoch checkpoints: a kill loses at most this much work
        return bool((t.checkpoint_every_steps and step % t.checkpoint_every_steps == 0)
                    or (t.checkpoint_every_minutes and spent() - saved_at >= 60 * t.checkpoint_every_minutes))

    watch = CollapseWatch(t.collapse_patience)

    def roll_back(source, reason: str, changes: dict) -> None:
        """Return to a checkpoint, apply `changes` to the config and the optimisers, go on."""
        nonlocal view
        count, from_step = state.rollbacks + 1, state.step
        state.load(source)  # weights, optimisers, every RNG and the step of that checkpoint
        state.rollbacks = count
        apply_changes(cfg, state, changes)
        view = DView(tuple(t.diffaugment), lo.instance_noise, lo.instance_noise_steps, total_steps)
        run.truncate_logs(state.step)  # the rows after it describe weights that are gone
        run.write_config(cfg)
        run.log_event("rollback", step=from_step, to_step=state.step, reason=reason, checkpoint=source.name,
                      changes=changes, rollbacks=count)
        rank_seed(t.seed, dist, state.step)
        sampler.fresh_at = -1
        monitor.monitor.reset()
        watch.reset()
        log.restart()
        checkpoint()  # so a kill now resumes with the changed settings and the count
        print(f"gankit: warning: {reason} at step {from_step}; rolled back to step {state.step} "
              f"({source.name}) with {', '.join(f'{k}={v:.3g}' for k, v in changes.items())}", file=sys.stderr)

    images_u8, labels_all = data.images, data.labels
    log = Logger(run, cfg, total_steps, steps_per_epoch, dist, G)  # G: a growing model's resolution in the rows
    G.train()
    D.train()
    if dist.main and t.on_divergence == "rollback" and saved_step is None:
        checkpoint()  # step 0: a run that diverges early has somewhere to return to
    out_of_time, = agree(clock.time_up(), dist=dist)  # a resumed run may have spent it already
    stopped_early = pending_save = False
    with Interrupt() as interrupt:
        while state.step < total_steps and not interrupt.requested and not out_of_time and not stopped_early:
            epoch, i = divmod(state.step, steps_per_epoch)
            order = epoch_order(n, t.seed, epoch)
            log.start_epoch(epoch, i)
            rolled_back = False
            while i < steps_per_epoch and state.step < total_steps and not interrupt.requested and not out_of_time:
                step = state.step
                # this rank's slice of the global batch; z and targets drawn for the whole batch
                idx = shard(order[i * t.batch_size:(i + 1) * t.batch_size], dist)
                real = augment_real(to_float(images_u8[idx], cfg.data.range).to(device), cfg.data)  # data.augment
                y = labels_all[idx].to(device) if cfg.model.conditional else None
                do_g = (step + 1) % t.n_critic == 0
                for net in (G, D, state.ema.model if state.ema is not None else None):
                    if hasattr(net, "set_progress"):  # a growing model (progan): its stage and fade-in at this step
                        net.set_progress(step)

                # D step
                z = shard(torch.randn(t.batch_size, cfg.model.z_dim, generator=state.noise_rng), dist).to(device)
                with torch.set_grad_enabled(do_g), amp():
                    fake = G_step(z, y)  # reused by the G step below: one G forward per step
                real_t, fake_t = (shard(v, dist).to(device) for v in d_targets(
                    t.batch_size, lo.real_label, lo.label_noise, lo.label_flip, lo.swap_labels,
                    generator=state.targets_rng))
                norm_d = (lambda: log.grad_norm(D)) if log.due(step) else None
                norm_g = (lambda: log.grad_norm(G)) if log.due(step) else None
                with amp():
                    d = d_objective(D_step, loss, lo, view(real, step), view(fake if together else fake.detach(), step),
                                    y, real_t, fake_t, step)
                g_loss, fool, gn_g = None, None, None
                keep = topk_keep(step / steps_per_epoch, lo.g_topk, lo.g_topk_gamma)  # top-k G training
                if together:  # G's loss on the same fake logits; both gradients before either update
                    with amp():
                        g_loss, fool = g_objective_from(d, loss, lo.swap_labels, keep)
                        g_loss = with_mode_seeking(g_loss, lo, fake, z, y)
                    gn_d, gn_g = simultaneous_step(d.total, g_loss, opt_d, opt_g, state.scalers, (norm_d, norm_g))
                else:
                    gn_d = backward_and_step(d.total, opt_d, state.scalers[1], norm_d)
                if clip:  # WGAN: the critic's weights stay in [-c, c]
                    clip_weights(D, clip)
                acc_real, acc_fake, _ = accuracy(d.real_logits, d.fake_logits, loss.threshold, lo.swap_labels)

                # G step
                if do_g and not together:
                    with amp():
                        g_loss, fool = g_objective(D_frozen, loss, view(fake, step), y, lo.swap_labels, keep)
                        g_loss = with_mode_seeking(g_loss, lo, fake, z, y)
                    gn_g = backward_and_step(g_loss, opt_g, state.scalers[0], norm_g)
                if do_g:
                    for s in state.schedulers:
                        s.step()

                # EMA
                if state.ema is not None and do_g:
                    state.ema.update(G, step)

                # log
                state.step = step = step + 1
                i += 1
                log.step(step, t.batch_size, d_real=d.real, d_fake=d.fake, d_total=d.total, g_loss=g_loss,
                         acc_real=acc_real, acc_fake=acc_fake, fool=fool, gn_d=gn_d, gn_g=gn_g,
                         lr_g=opt_g.param_groups[0]["lr"], lr_d=opt_d.param_groups[0]["lr"])
                collapsed = None
                if log.last_row is not None:  # a stats row was just written (rank 0)
                    for message in monitor.observe(step, log.last_row, fake.detach()):
                        log.warn(step, message)
                    collapsed = watch.update(monitor.monitor.active)

                # health: a non-finite loss every step; gradients and weights at log rows and before saving
                due = dist.main and save_due(step)
                time_up = clock.time_up()
                check = (log.last_row is not None or due or i == steps_per_epoch or step >= total_steps
                         or interrupt.requested or time_up)
                diag = divergence(state, d.total, g_loss, check)
                # every rank stops at the same step, whichever rank saw the reason
                stop, bad_d, bad_g, out_of_time = agree(interrupt.requested, bool(diag and diag[0] == "D"),
                                                        bool(diag and diag[0] == "G"), time_up, dist=dist)
                interrupt.requested = stop
                if bad_d or bad_g:
                    net = "D" if bad_d else "G"
                    what = diag[1] if diag and diag[0] == net else "loss"
                    if dist.main:
                        run.log_event("diverged", step=step, network=net, quantity=what, loss=lo.name)
                    if t.on_divergence == "rollback" and state.rollbacks < t.max_rollbacks:
                        roll_back(run.last_checkpoint, f"{net}'s {what} diverged",
                                  lowered_lrs(cfg, t.rollback_lr_factor))
                        rolled_back = True
                        break
                    raise GankitError(divergence_message(step, net, what, lo.name, saved_step, state.rollbacks,
                                                         t.on_divergence))
                if collapsed and t.on_collapse == "rollback" and state.rollbacks < t.max_rollbacks:
                    best = run.checkpoints / "best.safetensors"
                    roll_back(best if best.is_file() else run.last_checkpoint,
                              f"the collapse monitor's {collapsed} warning lasted {t.collapse_patience} log rows",
                              collapse_fix(cfg, collapsed))
                    rolled_back = True
                    break

                # checkpoint (mid-epoch; the end of an epoch saves below)
                if due and i < steps_per_epoch and step < total_steps and not stop and not out_of_time:
                    checkpoint()
                pending_save = pending_save or (due and i == steps_per_epoch)

            if rolled_back:  # start over from the checkpoint's step
                continue
            epoch_done = i == steps_per_epoch
            if not dist.main:  # rank 0 alone samples, evaluates and saves
                log.end_epoch()
                continue
            # evaluate
            if epoch_done and t.eval_every and (epoch + 1) % t.eval_every == 0:
                fid = monitor.evaluate(sampler(state.step), state.step, state.step / steps_per_epoch, device)
                if fid is not None and (state.best_fid is None or fid < state.best_fid):
                    state.best_fid, state.evals_since_best = fid, 0
                    if t.keep_best:
                        checkpoint("best")
                elif fid is not None:
                    state.evals_since_best += 1
                    if t.early_stop_patience and state.evals_since_best >= t.early_stop_patience:
                        stopped_early = True
                        run.log_event("early_stop", step=state.step, best_fid=state.best_fid,
                                      evaluations_without_improvement=state.evals_since_best)
            finished = state.step >= total_steps or out_of_time or stopped_early
            # samples
            if (epoch_done and (epoch + 1) % t.sample_every == 0) or finished or interrupt.requested:
                save_samples(run, sampler(state.step), cfg, state.prior, state.step, steps_per_epoch,
                             data.class_names, log.writer)
            # checkpoint
            if (epoch_done and (epoch + 1) % t.checkpoint_every == 0) or finished or interrupt.requested or pending_save:
                checkpoint()
                pending_save = False
            log.end_epoch()
        if not dist.main:
            pass
        elif interrupt.requested:
            run.log_event("interrupted", step=state.step)
        elif out_of_time:
            run.log_event("budget_spent", step=state.step, seconds=round(state.seconds, 1))
        elif stopped_early:
            print(f"gankit: early stop at step {state.step}: no better FID in {t.early_stop_patience} evaluations "
                  f"(best {state.best_fid:.2f}, checkpoints/best.safetensors)", file=sys.stderr)
    summary = log.close(state.step)
    summary["interrupted"] = interrupt.requested
    return summary
