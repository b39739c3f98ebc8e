"""`TrainingMonitor`: the periodic evaluation and the collapse monitor, for the training loop.

The metric maths lives in gankit.metrics; this turns the generator in training into uint8
samples, scores them against the run's reference data, and appends one evals.jsonl row per
periodic evaluation.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from gankit.config import Config
from gankit.data import ImageData
from gankit.errors import GankitWarning
from gankit.metrics import PROVENANCE_KEYS, evaluate_samples, load_test_split
from gankit.metrics.evaluate import reference_data
from gankit.metrics.evaluator_folder import MIN_IMAGES, find_evaluator
from gankit.models.sampling import generated_u8
from gankit.runs.layout import RunDir
from gankit.training.collapse import CollapseJudge, CollapseMonitor
from gankit.util.imageio import to_uint8


class TrainingMonitor:
    """Periodic FID and the mode-collapse monitor, for the training loop.

    `observe` is called at log intervals with the current fake batch and D/G numbers and
    returns new warnings; `evaluate` is called every `train.eval_every` epochs and returns
    the FID (None when evaluation is off or impossible for this dataset).  The best FID so
    far is part of the training state (state.py), so it survives a resume.
    """

    def __init__(self, cfg: Config, run: RunDir, data: ImageData, data_dir: str | None, prior: torch.Tensor):
        self.cfg, self.run, self.data_dir, self.prior = cfg, run, data_dir, prior
        t = cfg.train
        # the reference data (data.limit only shortens training) picks the evaluator by its fingerprint
        self.real = data if cfg.data.limit == 0 else (reference_data(cfg, data_dir) if t.eval_every else None)
        self.evaluator = None if t.eval_evaluator == "none" else find_evaluator(
            cfg.data.dataset, self.real or data, "ssl" if t.eval_evaluator == "ssl" else "auto")
        if t.eval_every and self.evaluator is None:  # never skipped silently: one line at the start
            stop = " and train.early_stop_patience will never fire" if t.early_stop_patience else ""
            why = ("train.eval_evaluator=none" if t.eval_evaluator == "none" else
                   f"{len(self.real or data)} images are too few for an evaluator (at least {MIN_IMAGES})")
            message = (f"train.eval_every={t.eval_every}: {why}, so this run has no periodic FID, no "
                       f"checkpoints/best.safetensors{stop}; set train.eval_every=0 to silence this")
            warnings.warn(GankitWarning(message), stacklevel=2)
            run.log_event("warning", step=0, message=message)
        self.monitor = CollapseMonitor(self.evaluator, data.images)
        self.judge = CollapseJudge(n_classes=self.monitor.n_present, expected_effective=self.monitor.expected_effective,
                                   conditional=cfg.model.conditional is True)
        self.test = None
        self.loaded_refs = False

    def observe(self, step: int, row: dict, fake: torch.Tensor) -> list[str]:
        """Add the collapse signals of this step's samples to its stats row (from step 0, so a run
        records what the monitor saw) and return the warnings the row starts."""
        row.update(self.monitor.measure(to_uint8(fake, self.cfg.data.range)))
        return self.judge.update(row, self.monitor.missing)

    def reset(self) -> None:
        """After a rollback: the recent samples and rows are gone."""
        self.monitor.reset()
        self.judge.reset()

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
        m = evaluate_samples(fake, self.cfg.data.dataset, self.real, n=t.eval_n, test=self.test, device=device,
                             kid_subsets=20, seed=t.seed, reference_split=self.cfg.data.split, evaluator=self.evaluator)
        row = {"step": step, "epoch": round(epoch, 4), "n": t.eval_n}
        row.update({k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        row.update({k: m[k] for k in PROVENANCE_KEYS if k in m})  # what the row's numbers were measured with
        self.run.append(self.run.evals_file, row)
        return m.get("fid")
