"""`gankit evaluate` and the periodic evaluation during training, both on a run's generator.

The metric math lives in gankit.metrics; this module only turns a run (or a generator in
training) into uint8 samples and the matching real data, and writes the results into the
run directory: metrics.json for `gankit evaluate`, one evals.jsonl row per periodic
evaluation.
"""

from __future__ import annotations

import dataclasses
import json

import torch
from torch import nn

from .atomic import atomic_write
from .config import Config
from .data import ImageData, load_dataset
from .imageio import to_uint8
from .metrics import (PROVENANCE_KEYS, CollapseMonitor, evaluate_samples, evaluator_for, format_table,
                      load_test_split)
from .rundir import RunDir, load_run
from .sampling import sample


def reference_data(cfg: Config, data_dir: str | None) -> ImageData:
    """The real distribution a run is judged against: its training split, all of it.

    `data.limit` only shortens training; the reference stays the dataset (with the run's
    class filter, channels and resolution), so numbers are comparable across budgets.
    """
    return load_dataset(dataclasses.replace(cfg.data, limit=0), data_dir)


def generated_u8(G: nn.Module, cfg: Config, prior: torch.Tensor, n: int, seed: int, device="cpu") -> torch.Tensor:
    """n samples as uint8, labels (conditional G) drawn from the training label prior."""
    x, _ = sample(G, n, seed, prior, device=device)
    return to_uint8(x, cfg.data.range)


def evaluate_run(run_dir: str, n: int = 10000, checkpoint: str | None = None, seed: int = 0,
                 data_dir: str | None = None) -> str:
    loaded = load_run(run_dir, checkpoint)
    cfg = loaded.cfg
    real = reference_data(cfg, data_dir)
    test = load_test_split(cfg.data, data_dir)
    fake = generated_u8(loaded.G, cfg, loaded.prior, n, seed)
    metrics = evaluate_samples(fake, cfg.data.dataset, real, n=n, test=test, seed=seed,
                               reference_split=cfg.data.split)
    metrics.update({"step": loaded.step, "checkpoint": str(checkpoint or loaded.run.last_checkpoint),
                    "sampler": "ema" if loaded.state.get("G_ema") else "G"})
    out = loaded.run.path / "metrics.json"
    if out.is_file():  # `evaluate --cas/--privacy` results (run_checks.py) stay; each records its own step
        try:
            kept = json.loads(out.read_text())
        except json.JSONDecodeError:
            kept = {}
        metrics.update({k: kept[k] for k in ("cas", "privacy") if isinstance(kept, dict) and k in kept})
    atomic_write(out, json.dumps(metrics, indent=2) + "\n")
    from .report.html import write_report

    write_report(loaded.run)
    return f"{format_table(metrics)}\nwritten: {out}"


class TrainingMonitor:
    """Periodic FID and the mode-collapse monitor, for the training loop.

    `observe` is called at log intervals with the current fake batch and D/G numbers and
    returns new warnings; `evaluate` is called every `train.eval_every` epochs and returns
    the FID (None when evaluation is off or impossible for this dataset).  The best FID so
    far is part of the training state (state.py), so it survives a resume.
    """

    def __init__(self, cfg: Config, run: RunDir, data: ImageData, data_dir: str | None, total_steps: int,
                 prior: torch.Tensor):
        self.cfg, self.run, self.data_dir, self.prior = cfg, run, data_dir, prior
        # every G starts out "collapsed" (all samples alike): judge only after a warm-up
        self.warmup = min(1000, total_steps // 4)
        self.evaluator = evaluator_for(cfg.data.dataset, data.class_names)
        self.monitor = CollapseMonitor(self.evaluator, data.images)
        self.real = data if cfg.data.limit == 0 else None  # reloaded lazily when training used a subset
        self.test = None
        self.loaded_refs = False

    def observe(self, step: int, row: dict, fake: torch.Tensor) -> list[str]:
        if step < self.warmup:
            return []
        fake_u8 = to_uint8(fake, self.cfg.data.range)
        return self.monitor.update(step, row.get("d_acc_real"), row.get("d_acc_fake"), row.get("g_loss"), fake_u8)

    def evaluate(self, G: nn.Module, step: int, epoch: float, device) -> float | None:
        t = self.cfg.train
        if not t.eval_every or self.evaluator is None:
            return None
        if not self.loaded_refs:
            self.real = self.real or reference_data(self.cfg, self.data_dir)
            self.test = load_test_split(self.cfg.data, self.data_dir)
            self.loaded_refs = True
        was_training = G.training
        G.eval()
        fake = generated_u8(G, self.cfg, self.prior, t.eval_n, seed=t.seed + 4, device=device)
        G.train(was_training)
        m = evaluate_samples(fake, self.cfg.data.dataset, self.real, n=t.eval_n, test=self.test,
                             kid_subsets=20, seed=t.seed, reference_split=self.cfg.data.split)
        row = {"step": step, "epoch": round(epoch, 4), "n": t.eval_n}
        row.update({k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        row.update({k: m[k] for k in PROVENANCE_KEYS if k in m})  # what the row's numbers were measured with
        self.run.append(self.run.evals_file, row)
        return m.get("fid")
