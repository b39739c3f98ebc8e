"""`CollapseMonitor`: watches training for mode collapse and a runaway discriminator.

Fed one row per log interval (step, D's accuracies, G's loss, a batch of samples), it raises a
warning when a condition starts (and again only after it has cleared), each naming the likely
cause and what to try (health.py's COLLAPSE_HINTS, whose first fix is what
train.on_collapse=rollback applies: one rule, in one place):
- class coverage: the evaluator's predicted classes over the recent samples cover clearly fewer
  classes than at their best (needs an evaluator);
- D saturation: D's mean accuracy over the window near 1 while G's loss climbs;
- diversity: the mean pairwise feature distance of a batch below a fraction of real data's
  (pixel space when there is no evaluator).
"""

from __future__ import annotations

from collections import deque

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.metrics.manifold import mean_pairwise_distance
from gankit.metrics.reference import subset_indices
from gankit.training.health import COLLAPSE_HINTS


def _pixel_features(u8: Tensor) -> Tensor:
    """Fallback features without an evaluator: images pooled to at most 16x16, flattened."""
    x = u8.float() / 127.5 - 1.0
    if x.shape[-1] > 16:
        x = F.adaptive_avg_pool2d(x, 16)
    return x.flatten(1)


def _as_u8(x: Tensor) -> Tensor:
    if x.dtype == torch.uint8:
        return x
    # float images in the generator's [-1, 1] range
    return ((x.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


class CollapseMonitor:
    """update(step, d_acc_real, d_acc_fake, g_loss, fake) -> list of new warning strings.

    `fake`: uint8 images [B,C,H,W] (best), float images in [-1,1] (a tanh generator's output;
    convert sigmoid [0,1] output to uint8 first), or precomputed features [B,D].
    `stats` holds the latest signal values for logging.
    """

    def __init__(self, evaluator, real_u8: Tensor, *, window: int = 10, coverage_samples: int = 512,
                 d_acc_level: float = 0.95, g_loss_rise: float = 0.25, diversity_fraction: float = 0.5,
                 hints: dict[str, str] | None = None):
        self.evaluator = evaluator
        hints = COLLAPSE_HINTS if hints is None else hints
        self.hints = {c: f"; {h}" for c, h in hints.items()}  # condition -> what to try
        self.window = window
        self.d_acc_level = d_acc_level
        self.g_loss_rise = g_loss_rise
        self.diversity_fraction = diversity_fraction
        # a fixed random sample: datasets stored class by class would skew the first rows
        real = real_u8[subset_indices(real_u8.shape[0], 512, seed=0)]
        feats, logits = self._embed(real)
        self.real_diversity = mean_pairwise_distance(feats)
        self.class_names = list(evaluator.class_names) if evaluator is not None else []
        if logits is not None:
            c = logits.shape[1]
            self.real_frac = torch.bincount(logits.argmax(1), minlength=c).double() / logits.shape[0]
            self.present = self.real_frac >= 0.2 / c
        self.preds: deque[int] = deque(maxlen=coverage_samples)
        self.accs: deque[float] = deque(maxlen=window)
        self.g_losses: deque[float] = deque(maxlen=2 * window)
        self.diversity: deque[float] = deque(maxlen=3)
        self.best_covered = 0
        self.active: set[str] = set()
        self.stats: dict[str, float] = {}

    def reset(self) -> None:
        """Forget the recent window (after a rollback: the samples it saw are gone)."""
        for q in (self.preds, self.accs, self.g_losses, self.diversity):
            q.clear()
        self.best_covered = 0
        self.active.clear()

    def _embed(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if x.dtype != torch.uint8 and x.dim() == 2:
            return x.detach().float().cpu(), None
        u8 = _as_u8(x)
        if self.evaluator is None:
            return _pixel_features(u8), None
        feats, logits = self.evaluator.embed(u8, device=u8.device)  # where the samples are: the training device
        # a self-supervised evaluator's head is a projection, not classes: diversity only
        return feats, logits if self.evaluator.class_names else None

    def _coverage(self) -> tuple[int, list[str]]:
        c = len(self.real_frac)
        frac = torch.bincount(torch.tensor(list(self.preds)), minlength=c).double() / len(self.preds)
        covered = self.present & (frac >= 0.1 * self.real_frac)
        missing = [self.class_names[i] for i in range(c) if self.present[i] and not covered[i]]
        return int(covered.sum()), missing

    def _raise(self, name: str, condition: bool, message: str) -> list[str]:
        # warn when a condition starts; re-arm once it has cleared
        if condition and name not in self.active:
            self.active.add(name)
            return [message]
        if not condition:
            self.active.discard(name)
        return []

    def update(self, step: int, d_acc_real: float | None, d_acc_fake: float | None, g_loss: float | None,
               fake: Tensor | None = None) -> list[str]:
        out: list[str] = []
        if d_acc_real is not None and d_acc_fake is not None:
            self.accs.append((float(d_acc_real) + float(d_acc_fake)) / 2)
        if g_loss is not None:
            self.g_losses.append(float(g_loss))
        if len(self.accs) == self.window and len(self.g_losses) == 2 * self.window:
            acc = sum(self.accs) / self.window
            before = sum(list(self.g_losses)[: self.window]) / self.window
            now = sum(list(self.g_losses)[self.window :]) / self.window
            rising = now - before > self.g_loss_rise * max(abs(before), 0.1)
            self.stats["d_acc_mean"] = acc
            out += self._raise("saturation", acc >= self.d_acc_level and rising,
                               f"step {step}: D accuracy {acc:.3f} (near 1) while G loss climbed from {before:.3f} "
                               f"to {now:.3f}; likely cause: D has won and G's gradients vanish"
                               f"{self.hints.get('saturation', '')}")
        if fake is None or fake.shape[0] < 2:
            return out
        feats, logits = self._embed(fake)
        self.diversity.append(mean_pairwise_distance(feats))
        div = sum(self.diversity) / len(self.diversity)
        ratio = div / self.real_diversity if self.real_diversity > 0 else 1.0
        self.stats["diversity_ratio"] = ratio
        out += self._raise("diversity", ratio < self.diversity_fraction,
                           f"step {step}: sample diversity (mean pairwise feature distance) is {ratio:.0%} of the real "
                           f"data's; likely cause: (partial) mode collapse, many z give near-identical images"
                           f"{self.hints.get('diversity', '')}")
        if logits is not None:
            self.preds.extend(int(v) for v in logits.argmax(1))
            if len(self.preds) >= self.preds.maxlen // 2:
                covered, missing = self._coverage()
                self.best_covered = max(self.best_covered, covered)
                present = int(self.present.sum())
                self.stats["classes_covered"] = covered
                drop = max(1, round(0.2 * present))
                out += self._raise("coverage", covered <= self.best_covered - drop,
                                   f"step {step}: samples now cover {covered} of {present} classes (best so far "
                                   f"{self.best_covered}; missing: {', '.join(missing)}); likely cause: mode "
                                   f"collapse, G dropped modes that D stopped penalising"
                                   f"{self.hints.get('coverage', '')}")
        return out
