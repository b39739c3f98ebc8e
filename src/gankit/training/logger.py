"""What the training loop writes: stats rows, progress bar, TensorBoard, sample grids.

Kept out of loop.py so the loop reads as the algorithm.  `Logger` averages per-step
numbers over `train.log_every` steps and appends one row to stats.jsonl per interval;
the same numbers go to TensorBoard and the progress bar.  In a distributed run every rank
keeps a Logger (the averages are taken over all ranks' slices of the batch) and rank 0's
alone writes.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch
from torch import nn

from gankit.config import Config
from gankit.models.sampling import class_grid_inputs, grid_inputs, trained_classes
from gankit.runs.layout import RunDir
from gankit.runtime.distributed import Dist, mean_values
from gankit.training.clock import Clock
from gankit.util.imageio import make_grid, save_grid, save_image, to_uint8

# stats.jsonl columns averaged over a log interval, with their short names in the progress bar
# the loss plots are redrawn at an epoch's end at most this often: an epoch of a few steps (a
# tiny dataset) would otherwise spend most of its time in matplotlib
PLOT_EVERY_S = 20.0
_AVERAGED = {
    "d_loss_real": "d_real", "d_loss_fake": "d_fake", "d_loss": "d_total", "g_loss": "g_loss",
    "d_acc_real": "acc_real", "d_acc_fake": "acc_fake", "g_fool_rate": "fool", "ada_p": "ada_p",
}


class Logger:
    def __init__(self, run: RunDir, cfg: Config, total_steps: int, steps_per_epoch: int, dist: Dist = Dist(),
                 G: nn.Module | None = None, *, clock: Clock):
        self.run, self.cfg, self.dist = run, cfg, dist
        self.clock = clock  # the run's training clock: a row's `time` counts every session, as the budget does
        self.G = G  # a growing G (progan) puts its `resolution` and fade-in `alpha` into every row
        self.writes = dist.main
        self.total_steps, self.steps_per_epoch = total_steps, steps_per_epoch
        self.every = cfg.train.log_every
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.extra: dict[str, Any] = {}
        self.images = 0
        self.t_interval = time.perf_counter()
        self.t0 = time.perf_counter()
        self.images_total = 0
        self.bar = None
        self.writer = None
        self.t_plots, self.plots_stale = -math.inf, False  # when the plots were last drawn; newer rows since
        # the row the latest step() made (rank 0), else None: upkeep adds the collapse monitor's
        # signals to it and writes it with write_row()
        self.last_row: dict[str, Any] | None = None
        if cfg.train.tensorboard and self.writes:
            from torch.utils.tensorboard import SummaryWriter  # slow import: only when used

            self.writer = SummaryWriter(str(run.path / "tb"))

    def due(self, step: int) -> bool:
        """Whether the step being computed now (0-based) ends a log interval."""
        return (step + 1) % self.every == 0

    @staticmethod
    def grad_norm(model: nn.Module) -> float:
        grads = [p.grad.detach().flatten() for p in model.parameters() if p.grad is not None]
        return float(torch.cat(grads).norm()) if grads else 0.0

    def start_epoch(self, epoch: int, first_batch: int) -> None:
        if self.cfg.train.progress and self.writes:
            from tqdm import tqdm

            # disable=None: drawn on a terminal only; redirected to a file, a bar is a line of noise per
            # refresh, and one cut short by an error would sit beside its one line
            self.bar = tqdm(total=self.steps_per_epoch, initial=first_batch, desc=f"epoch {epoch + 1}/{self.cfg.train.epochs}",
                            leave=False, file=sys.stderr, dynamic_ncols=True, mininterval=1.0, disable=None)

    def step(self, step: int, batch: int, gn_d: float | None, gn_g: float | None, lr_g: float, lr_d: float,
             **values: Any) -> None:
        self.images += batch
        self.images_total += batch
        for key, v in values.items():
            if v is None:
                continue
            self.sums[key] = self.sums.get(key, 0.0) + float(v.detach() if isinstance(v, torch.Tensor) else v)
            self.counts[key] = self.counts.get(key, 0) + 1
        if gn_d is not None:
            self.extra["grad_norm_d"] = gn_d
        if gn_g is not None:
            self.extra["grad_norm_g"] = gn_g
        if self.bar is not None:
            self.bar.update(1)
        self.last_row = None
        if step % self.every == 0 or step == self.total_steps:
            row = self._row(step, lr_g, lr_d)
            if self.writes:
                self.last_row = row

    def write_row(self) -> None:
        """Append the row the latest step() made (after upkeep added the monitor's signals)."""
        if self.last_row is not None:
            self._write(self.last_row["step"], self.last_row)

    def _row(self, step: int, lr_g: float, lr_d: float) -> dict[str, Any]:
        now = time.perf_counter()
        row: dict[str, Any] = {"step": step, "epoch": round(step / self.steps_per_epoch, 4),
                               "images_seen": step * self.cfg.train.batch_size}
        means = mean_values({key: self.sums[key] / self.counts[key] for key in self.sums if self.counts.get(key)},
                            self.dist)
        for col, key in _AVERAGED.items():
            if key in means:
                row[col] = round(means[key], 5)
        row.update({k: round(v, 5) for k, v in self.extra.items()})
        if hasattr(self.G, "resolution"):  # where the schedule was at the row's last step
            row["resolution"], row["alpha"] = int(self.G.resolution), round(float(self.G.alpha), 4)
        row["lr_g"], row["lr_d"] = lr_g, lr_d
        row["img_per_s"] = round(self.images / max(now - self.t_interval, 1e-9), 1)
        row["time"] = round(self.clock.spent(), 2)
        self.sums, self.counts, self.extra, self.images = {}, {}, {}, 0
        self.t_interval = now
        return row

    def _write(self, step: int, row: dict[str, Any]) -> None:
        self.run.append(self.run.stats_file, row)
        if self.writer is not None:
            for k, v in row.items():
                if k not in ("step",) and isinstance(v, (int, float)):
                    self.writer.add_scalar(k, v, step)
        if self.bar is not None:
            shown = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "resolution")
            self.bar.set_postfix({k: f"{row[k]:.3g}" for k in shown if k in row})

    def warn(self, step: int, message: str) -> None:
        """A training-health warning: events.jsonl (shown in the report) and the terminal."""
        self.run.log_event("warning", step=step, message=message)
        from tqdm import tqdm

        # one line, like every warning the CLI shows; above any progress bar (the run's, a study's)
        tqdm.write(f"gankit: warning: {' '.join(message.split())}", file=sys.stderr)

    def restart(self) -> None:
        """After a rollback: drop the half-filled interval (its steps are gone) and the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.sums, self.counts, self.extra, self.images = {}, {}, {}, 0
        self.t_interval = time.perf_counter()

    def end_epoch(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.writes:
            return
        from gankit.report.plots import write_plots

        if time.perf_counter() - self.t_plots < PLOT_EVERY_S:
            self.plots_stale = True  # drawn at the next epoch that is due, or at close()
            return
        write_plots(self.run)
        self.t_plots, self.plots_stale = time.perf_counter(), False

    def close(self, step: int) -> dict[str, Any]:
        from gankit.report.html import write_report

        if self.writer is not None:
            self.writer.close()
        if self.writes:
            write_report(self.run, refresh_plots=self.plots_stale)  # unless end_epoch() has just drawn them
        elapsed = time.perf_counter() - self.t0
        return {"step": step, "seconds": round(elapsed, 1),
                "img_per_s": round(self.images_total / max(elapsed, 1e-9), 1), "run": str(self.run.path)}


@torch.no_grad()
def save_samples(run: RunDir, G: nn.Module, cfg: Config, prior: torch.Tensor, step: int, steps_per_epoch: int,
                 class_names: list[str], writer=None) -> None:
    """The fixed-noise grid (and, for conditional models, one row per trained class).

    Grids at the end of an epoch are named by the epoch (fixed_e0005.png); one taken
    mid-epoch (an interrupt, train.max_steps) by its step (fixed_s0000123.png), so it never
    overwrites the grid of the epoch before.
    """
    was_training = G.training
    G.eval()
    device = next(G.parameters()).device
    rng, t = cfg.data.range, cfg.train
    epoch, rest = divmod(step, steps_per_epoch)
    tag = f"e{epoch:04d}" if rest == 0 else f"s{step:07d}"
    z, y = grid_inputs(cfg.model.z_dim, t.grid_size, t.seed + 2, prior, cfg.model.conditional)
    imgs = to_uint8(G(z.to(device), y.to(device) if y is not None else None).cpu(), rng)
    grid = make_grid(imgs, int(math.ceil(math.sqrt(imgs.shape[0]))))
    files = {"fixed": f"samples/fixed_{tag}.png"}
    save_image(grid, run.path / files["fixed"])
    if writer is not None:
        writer.add_image("samples", grid, step, dataformats="HWC")
    if cfg.model.conditional:
        per = 10
        zc, yc = class_grid_inputs(cfg.model.z_dim, per, t.seed + 3, prior)
        files["classes"] = f"samples/classes_{tag}.png"
        save_grid(to_uint8(G(zc.to(device), yc.to(device)), rng), run.path / files["classes"], nrow=per)
        files["class_rows"] = [class_names[int(c)] for c in trained_classes(prior)] if class_names else []
    G.train(was_training)
    run.log_event("samples", step=step, epoch=round(step / steps_per_epoch, 4), **files)
