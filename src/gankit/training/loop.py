"""The training loop: the only place that changes model state.

`train(cfg, run)` reads top to bottom: set-up, then per step `# D step`, `# G step`, `# EMA`,
`# log` (`train_step`) and `# upkeep` (health, rollback, mid-epoch checkpoints), and per epoch
the epoch's upkeep (evaluation, samples, checkpoint).  It schedules; the maths of each phase
is the `Objective` (objectives.py), the state it advances is one object (state.py, saved and
restored whole), what is done about the steps is `Upkeep` (upkeep.py), the multi-process parts
(torchrun) are in runtime/distributed.py.  The config is read-only here: launch.start_run
resolved and wrote it once, and what a rollback changes lives in the state's overrides.
"""

from __future__ import annotations

import functools
import signal
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gankit.config import Config, budget_seconds, unresolved
from gankit.data import ImageData, load_dataset
from gankit.runs.layout import RunDir
from gankit.runs.tracking import rewind as rewind_tracker
from gankit.runtime.device import pick_device
from gankit.runtime.distributed import Dist, place, rank_seed, shard, wrap
from gankit.runtime.precision import autocast, backward_and_step, check_amp, compiled, simultaneous_step
from gankit.training.ada import INTERVAL, adjusted, overfitting
from gankit.training.augment_real import augment_real, warn_leaks
from gankit.training.clock import Clock
from gankit.training.ema import Sampler
from gankit.training.logger import Logger
from gankit.training.monitor import TrainingMonitor
from gankit.training.objectives import DResult, Objective
from gankit.training.plan import epoch_order, plan
from gankit.training.state import TrainingState
from gankit.training.transfer import initialise
from gankit.training.upkeep import Session, Upkeep
from gankit.util.atomic import stale_temps
from gankit.util.imageio import to_float


@dataclass
class Interrupt:
    """Set by SIGINT/SIGTERM; the loop finishes the current step, saves and stops."""

    requested: bool = False
    handlers: dict = field(default_factory=dict)

    def handle(self, signum, frame) -> None:
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "Interrupt":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.handlers[sig] = signal.signal(sig, self.handle)
            except ValueError:  # not the main thread: no signal handling
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, h in self.handlers.items():
            signal.signal(sig, h)


@dataclass
class Nets:
    """The networks as the steps call them: DDP wrappers under torchrun, compiled with train.compile."""

    G: nn.Module
    D: nn.Module
    G_step: nn.Module
    device: torch.device
    dist: Dist


def train(cfg: Config, run: RunDir, data_dir: str | None = None, resume: bool = False,
          data: ImageData | None = None, dist: Dist = Dist()) -> dict:
    """Train (or continue) the run described by cfg in `run`; returns a summary dict.

    Under torchrun every rank calls this with its `dist`; rank 0 alone writes to `run`.  `cfg` is
    the pre-flight's resolved config (launch.start_run): a setting still at `auto` is a caller's bug."""
    pending = unresolved(cfg)
    if pending:
        raise ValueError(f"train() needs a resolved config, got {', '.join(pending)}: start runs through "
                         "launch.start_run, whose pre-flight resolves them from the data")
    t = cfg.train
    device = place(pick_device(t.device), dist)
    if t.threads:
        torch.set_num_threads(t.threads)
    data = data if data is not None else load_dataset(cfg.data, data_dir)
    p = plan(cfg, data, dist)
    check_amp(t.amp, device)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # fixed shapes: cuDNN may pick its fastest kernels
    clock = Clock(budget_seconds(t.budget))  # started after a resume restores the seconds spent
    state = TrainingState.create(cfg, data, device, p.total_steps, clock)
    if not resume:  # train.init_from / model.d_init=evaluator, before DDP copies rank 0's weights
        initialise(state, cfg, data, log=run.log_event if dist.main else None)
    G, D = state.G, state.D
    # the G step calls D itself, not its DDP wrapper: D is frozen there and its gradients unused
    G_step, D_step, D_frozen = compiled((*wrap(G, D, device, dist), D), t.compile)
    nets = Nets(G, D, G_step, device, dist)
    if dist.main:
        warn_leaks(cfg.data)  # data.augment: what G will learn to imitate
    sampler = Sampler(G, state.ema, state.prior, t.batch_size, t.seed + 5, device)
    # before the RNG is restored
    monitor = TrainingMonitor(cfg, run, data, data_dir, state.prior) if dist.main else None
    if resume:
        restore(state, run, dist)
    rank_seed(t.seed, dist, state.step)  # dropout, DiffAugment, instance noise: a stream per rank
    clock.start(state.seconds)
    log = Logger(run, cfg, p.total_steps, p.steps_per_epoch, dist, G, clock=clock)  # G: a growing model's resolution
    G.train()
    D.train()
    with Interrupt() as interrupt:
        up = Upkeep(Session(cfg, run, state, sampler, monitor, log, clock, dist, interrupt, p, resume))
        objective, order = None, None
        while up.stop_reason() is None:
            epoch, i = divmod(state.step, p.steps_per_epoch)
            if order is None:  # an epoch starts (or starts over after a rollback)
                order = epoch_order(len(data), t.seed, epoch)
                objective = Objective(state.effective_config().loss, t.diffaugment, p.total_steps, D_step, D_frozen,
                                      cfg.model.pack)
                log.start_epoch(epoch, i)
            # this rank's slice of the global batch; z and targets drawn for the whole batch
            idx = shard(order[i * t.batch_size:(i + 1) * t.batch_size], dist)
            real = augment_real(to_float(data.images[idx], cfg.data.range).to(device), cfg.data)  # data.augment
            y = data.labels[idx].to(device) if cfg.model.conditional else None
            d, g_loss, fake = train_step(nets, objective, state, real, y, p.steps_per_epoch, log)

            # upkeep
            if up.after_step(i + 1, d.total, g_loss, fake):  # rolled back: start over from its step
                order = None
                continue
            if up.epoch_ends(i + 1):
                up.after_epoch(epoch, i + 1 == p.steps_per_epoch, device)
                order = None
        up.finish()
    summary = log.close(state.step)
    summary["interrupted"] = interrupt.requested
    return summary


def restore(state: TrainingState, run: RunDir, dist: Dist) -> None:
    """Resume: the last checkpoint's state; logs after its step and a save a kill cut short dropped."""
    lost = state.load(run.last_checkpoint)
    if dist.main:
        run.truncate_logs(state.step)  # rows written after the checkpoint belong to lost work
        rewind_tracker(run, state.step)  # ... and MLflow gets the retrained rows again
        for tmp in stale_temps(run.checkpoints):
            tmp.unlink()
        run.log_event("resume", step=state.step, world_size=dist.world, **({"rng_not_restored": lost} if lost else {}))


def train_step(nets: Nets, obj: Objective, state: TrainingState, real: Tensor, y: Tensor | None,
               steps_per_epoch: int, log: Logger) -> tuple[DResult, Tensor | None, Tensor]:
    """One step: D's update, G's (every train.n_critic-th step), the EMA, the log; returns
    (D's result, G's loss or None, the fakes)."""
    t, step, dist, device = state.cfg.train, state.step, nets.dist, nets.device
    G, D = nets.G, nets.D
    together = t.update == "simultaneous"  # G's and D's gradients from one forward pass
    do_g = (step + 1) % t.n_critic == 0
    for net in (G, D, state.ema.model if state.ema is not None else None):
        if hasattr(net, "set_progress"):  # a growing model (progan): its stage and fade-in at this step
            net.set_progress(step)

    # D step
    z = shard(torch.randn(t.batch_size, state.cfg.model.z_dim, generator=state.noise_rng), dist).to(device)
    with torch.set_grad_enabled(do_g), autocast(t.amp, device):
        fake = nets.G_step(z, y)  # reused by the G step below: one G forward per step
    real_t, fake_t = (shard(v, dist).to(device) for v in obj.targets(t.batch_size, state.targets_rng))
    norm_d = functools.partial(log.grad_norm, D) if log.due(step) else None
    norm_g = functools.partial(log.grad_norm, G) if log.due(step) else None
    with autocast(t.amp, device):
        d = obj.d(real, fake if together else fake.detach(), y, real_t, fake_t, step, state.ada.p)
    g_loss, fool, gn_g = None, None, None
    keep = obj.keep(step / steps_per_epoch)  # top-k G training
    if together:  # G's loss on the same fake logits; both gradients before either update
        with autocast(t.amp, device):
            g_loss, fool = obj.g_from(d, fake, z, y, keep)
        gn_d, gn_g = simultaneous_step(d.total, g_loss, state.opt_d, state.opt_g, state.scalers, (norm_d, norm_g))
    else:
        gn_d = backward_and_step(d.total, state.opt_d, state.scalers[1], norm_d)
    obj.after_d_step(D)
    acc_real, acc_fake, _ = obj.accuracy(d)

    # G step
    if do_g and not together:
        with autocast(t.amp, device):
            g_loss, fool = obj.g(fake, z, y, step, keep, state.ada.p, real=real)
        gn_g = backward_and_step(g_loss, state.opt_g, state.scalers[0], norm_g)
    if do_g:
        for s in state.schedulers:
            s.step()

    # ADA
    if t.ada:
        ada_update(state, d.real_logits, dist)

    # EMA
    if state.ema is not None and do_g:
        state.ema.update(G, step)

    # log
    state.step = step + 1
    log.step(state.step, t.batch_size, d_real=d.real, d_fake=d.fake, d_total=d.total, g_loss=g_loss,
             acc_real=acc_real, acc_fake=acc_fake, fool=fool, gn_d=gn_d, gn_g=gn_g,
             lr_g=state.opt_g.param_groups[0]["lr"], lr_d=state.opt_d.param_groups[0]["lr"],
             ada_p=state.ada.p if t.ada else None)
    return d, g_loss, fake


def ada_update(state: TrainingState, real_logits: Tensor, dist: Dist) -> None:
    """Gather sign(D(real)); every ada.INTERVAL steps move p towards holding r_t at train.ada_target."""
    t, ada = state.cfg.train, state.ada
    signs, count = overfitting(real_logits)
    ada.signs += signs
    ada.count += count
    if (state.step + 1) % INTERVAL == 0:
        total = torch.tensor([ada.signs, float(ada.count)], dtype=torch.float64,
                             device=real_logits.device)  # NCCL reduces device tensors only
        if dist.active:  # one p for every rank: r_t over the global batch
            torch.distributed.all_reduce(total)
        r_t = float(total[0] / max(float(total[1]), 1.0))
        ada.p = adjusted(ada.p, r_t, t.ada_target, t.batch_size * INTERVAL, t.ada_kimg)
        ada.signs, ada.count = 0.0, 0
