"""The training loop: the only place that changes model state.

`train(cfg, run)` reads top to bottom: set-up, then per step `# D step`, `# G step`,
`# EMA`, `# log`, and per epoch `# samples`, `# checkpoint`.  Everything it needs comes
from the Config; everything it produces goes into the run directory.
"""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass, field

import torch

from . import targets as labels
from .augment import diff_augment
from .checkpoint import load_state, save_state
from .config import Config
from .data import ImageData, load_dataset
from .ema import EMA, recompute_bn_stats
from .errors import GankitError
from .run_eval import TrainingMonitor
from .losses import LOSSES, accuracy, generator_loss
from .models import build_models
from .optim import make_optimizers, make_schedulers
from .penalties import gradient_penalty, r1_penalty
from .rundir import RunDir
from .imageio import to_float
from .training_io import Logger, pick_device, save_samples


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
          data: ImageData | None = None) -> dict:
    """Train (or continue) the run described by cfg in `run`; returns a summary dict."""
    t, lo = cfg.train, cfg.loss
    device = pick_device(t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    data = data if data is not None else load_dataset(cfg.data, data_dir)
    n = data.images.shape[0]
    if n < t.batch_size:
        raise GankitError(f"{data.name} has {n} images, fewer than train.batch_size={t.batch_size}; "
                          "lower the batch size or raise data.limit")
    img_shape = tuple(data.images.shape[1:])
    num_classes = max(len(data.class_names), 1)
    G, D = build_models(cfg.model, img_shape, num_classes)
    G.to(device)
    D.to(device)
    opt_g, opt_d = make_optimizers(G, D, cfg.optim)
    steps_per_epoch = n // t.batch_size
    total_steps = t.epochs * steps_per_epoch if not t.max_steps else min(t.max_steps, t.epochs * steps_per_epoch)
    schedulers = make_schedulers(opt_g, opt_d, cfg.optim, math.ceil(total_steps / t.n_critic))
    ema = EMA(G, t.ema_decay, t.ema_start) if t.ema else None
    loss = LOSSES[lo.name]
    swap = lo.swap_labels
    target_gen = torch.Generator().manual_seed(t.seed + 1)
    fixed = torch.Generator().manual_seed(t.seed + 2)  # the fixed-noise grid, same for every epoch
    fixed_z = torch.randn(t.grid_size, cfg.model.z_dim, generator=fixed).to(device)
    fixed_y = (torch.arange(t.grid_size) % num_classes).to(device) if cfg.model.conditional else None
    images_u8, labels_all = data.images, data.labels

    monitor = TrainingMonitor(cfg, run, data, data_dir, total_steps)  # before the RNG state is restored below

    step = 0
    if resume:
        state = load_state(run.last_checkpoint)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_G"])
        opt_d.load_state_dict(state["opt_D"])
        for s, sd in zip(schedulers, state.get("schedulers", [])):
            s.load_state_dict(sd)
        if ema is not None and state.get("G_ema"):
            ema.load_state_dict(state["G_ema"])
        torch.set_rng_state(state["rng"]["torch"])
        target_gen.set_state(state["rng"]["targets"])
        step = int(state["step"])
        run.truncate_stats(step)
        run.log_event("resume", step=step)

    def checkpoint(tag: str = "last") -> None:
        if ema is not None:
            sampler_G()  # store the EMA G with BN statistics that fit its weights
        state = {
            "config": cfg.to_dict(), "step": step, "img_shape": list(img_shape),
            "class_names": list(data.class_names), "G": G.state_dict(), "D": D.state_dict(),
            "G_ema": ema.state_dict() if ema is not None else {},
            "opt_G": opt_g.state_dict(), "opt_D": opt_d.state_dict(),
            "schedulers": [s.state_dict() for s in schedulers],
            "rng": {"torch": torch.get_rng_state(), "targets": target_gen.get_state()},
        }
        save_state(state, run.checkpoints / f"{tag}.safetensors")

    bn_fresh_at = [-1]  # step whose EMA weights the BN statistics were last estimated for

    def sampler_G() -> torch.nn.Module:
        if ema is None:
            return G
        if bn_fresh_at[0] == step:  # samples, evaluation and checkpoint at one step share it
            return ema.model
        # EMA weights with BN statistics copied from the raw G give washed-out samples.
        # The re-estimation draws from its own generator so the training RNG stream (and
        # with it bit-identical resume) does not depend on when samples were taken.
        bn_gen = torch.Generator().manual_seed(t.seed + 5)

        def noise(k: int):
            z = torch.randn(k, cfg.model.z_dim, generator=bn_gen).to(device)
            if cfg.model.conditional:
                return z, torch.randint(0, num_classes, (k,), generator=bn_gen).to(device)
            return (z,)

        recompute_bn_stats(ema.model, noise, n_batches=8, batch_size=t.batch_size)
        bn_fresh_at[0] = step
        return ema.model

    log = Logger(run, cfg, total_steps, steps_per_epoch)
    G.train()
    D.train()
    with Interrupt() as interrupt:
        while step < total_steps and not interrupt.requested:
            epoch, i = divmod(step, steps_per_epoch)
            order = epoch_order(n, t.seed, epoch)
            log.start_epoch(epoch, i)
            while i < steps_per_epoch and step < total_steps and not interrupt.requested:
                idx = order[i * t.batch_size:(i + 1) * t.batch_size]
                real = to_float(images_u8[idx], cfg.data.range).to(device)
                y = labels_all[idx].to(device) if cfg.model.conditional else None
                bs = real.shape[0]
                do_g = (step + 1) % t.n_critic == 0

                # D step
                z = torch.randn(bs, cfg.model.z_dim, device=device)
                with torch.set_grad_enabled(do_g):
                    fake = G(z, y)  # reused by the G step below: one G forward per step
                real_t, fake_t = labels.d_targets(bs, lo.real_label, lo.label_noise, lo.label_flip, swap,
                                                  generator=target_gen, device=device)
                xr, xf = diff_augment(real, t.diffaugment), diff_augment(fake.detach(), t.diffaugment)
                sigma = labels.instance_noise_std(step, total_steps, lo.instance_noise, lo.instance_noise_steps)
                if sigma > 0:
                    xr, xf = xr + sigma * torch.randn_like(xr), xf + sigma * torch.randn_like(xf)
                if lo.r1_gamma > 0:
                    xr.requires_grad_(True)
                real_logits, fake_logits = D(xr, y), D(xf, y)
                d_real, d_fake = loss.d_parts(real_logits, fake_logits, real_t, fake_t)
                d_total = d_real + d_fake
                if lo.name == "wgan-gp":
                    d_total = d_total + lo.gp_weight * gradient_penalty(D, xr.detach(), xf.detach(), y)
                if lo.r1_gamma > 0:
                    d_total = d_total + 0.5 * lo.r1_gamma * r1_penalty(real_logits, xr)
                opt_d.zero_grad(set_to_none=True)
                d_total.backward()
                gn_d = log.grad_norm(D) if log.due(step) else None
                opt_d.step()
                acc_real, acc_fake, _ = accuracy(real_logits, fake_logits, loss.threshold, swap)

                # G step
                g_loss, fool, gn_g = None, None, None
                if do_g:
                    g_logits = D(diff_augment(fake, t.diffaugment), y)
                    g_loss = generator_loss(loss, g_logits, swap)
                    opt_g.zero_grad(set_to_none=True)
                    g_loss.backward()
                    gn_g = log.grad_norm(G) if log.due(step) else None
                    opt_g.step()
                    for s in schedulers:
                        s.step()
                    fool = accuracy(g_logits, g_logits, loss.threshold, swap)[2]

                # EMA
                if ema is not None and do_g:
                    ema.update(G, step)

                # log
                step += 1
                i += 1
                log.step(step, bs, d_real=d_real, d_fake=d_fake, d_total=d_total, g_loss=g_loss,
                         acc_real=acc_real, acc_fake=acc_fake, fool=fool, gn_d=gn_d, gn_g=gn_g,
                         lr_g=opt_g.param_groups[0]["lr"], lr_d=opt_d.param_groups[0]["lr"])
                if log.last_row is not None:  # a stats row was just written
                    for message in monitor.observe(step, log.last_row, fake.detach()):
                        log.warn(step, message)

                bad = "D" if not torch.isfinite(d_total.detach()) else (
                    "G" if g_loss is not None and not torch.isfinite(g_loss.detach()) else None)
                if bad:
                    run.log_event("nan", step=step, loss=bad)
                    raise GankitError(f"training diverged at step {step}: the {bad} loss is not finite; "
                                      "lower the learning rates or try loss.name=hinge / model.d_spectral_norm=true")

            epoch_done = i == steps_per_epoch
            finished = step >= total_steps
            # samples
            if (epoch_done and (epoch + 1) % t.sample_every == 0) or finished or interrupt.requested:
                save_samples(run, sampler_G(), fixed_z, fixed_y, cfg, step, epoch + (1 if epoch_done else 0),
                             data.class_names, log.writer)
            # evaluate
            if epoch_done and t.eval_every and (epoch + 1) % t.eval_every == 0:
                fid = monitor.evaluate(sampler_G(), step, step / steps_per_epoch, device)
                if monitor.is_best(fid):
                    checkpoint("best")
            # checkpoint
            if (epoch_done and (epoch + 1) % t.checkpoint_every == 0) or finished or interrupt.requested:
                checkpoint()
            log.end_epoch()
        if interrupt.requested:
            run.log_event("interrupted", step=step)
    summary = log.close(step)
    summary["interrupted"] = interrupt.requested
    return summary
