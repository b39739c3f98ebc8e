"""The collapse monitor: measures what a batch of samples shows, and judges the stats rows.

Two halves, so a run's recorded stats.jsonl replays every decision the monitor made:
- `CollapseMonitor.measure(fake)` turns one batch of samples into numbers that go into the
  stats row (`diversity_ratio`, `nn_ratio`, `near_duplicates`; `classes_covered` and
  `classes_effective` when an evaluator with classes exists);
- `CollapseJudge.update(row)` reads rows only and raises a warning when a condition starts
  (and again only after it has cleared), each naming the likely cause and what to try
  (health.py's COLLAPSE_HINTS, whose first fix is what train.on_collapse=rollback applies):
  - class coverage: the recent samples cover clearly fewer classes than at their best, or a
    few classes dominate them;
  - D saturation: D's mean accuracy over the window near 1 while G's loss climbs;
  - diversity: samples nearer their nearest neighbour in the batch than real images are, or
    near-copies of one another;
  each averaged over several rows, none judged before a warm-up (`CollapseJudge`).
The rule's thresholds were chosen on healthy and deliberately collapsed runs (docs/evaluation.md,
"Mode-collapse monitor"; bench/collapse_rates.py replays recorded runs through it).
"""

from __future__ import annotations

from collections import deque

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.metrics.manifold import kth_radius, mean_pairwise_distance
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
    """measure(fake) -> this batch's signals for the stats row.

    `fake`: uint8 images [B,C,H,W] (best), float images in [-1,1] (a tanh generator's output;
    convert sigmoid [0,1] output to uint8 first), or precomputed features [B,D].
    `missing` names the classes absent from the recent samples (for the coverage warning).
    """

    def __init__(self, evaluator, real_u8: Tensor, *, coverage_samples: int = 512):
        self.evaluator = evaluator
        # a fixed random sample: datasets stored class by class would skew the first rows
        real = real_u8[subset_indices(real_u8.shape[0], 512, seed=0)]
        feats, logits = self._embed(real)
        self.real_diversity = mean_pairwise_distance(feats)
        self.real_feats = feats
        self.real_nn: dict[int, float] = {}  # batch size -> real images' median nearest-neighbour distance
        self.class_names = list(evaluator.class_names) if evaluator is not None and logits is not None else []
        self.n_present = 0
        self.expected_covered, self.expected_effective = 0, 0.0
        if logits is not None:
            c = logits.shape[1]
            # many classes (StackedMNIST's 1,000 modes) need more samples than a batch of
            # 512 to be counted: the window and the real shares grow with the classes
            coverage_samples = max(coverage_samples, 2 * c)
            if 10 * c > real.shape[0]:
                more = real_u8[subset_indices(real_u8.shape[0], 10 * c, seed=0)]
                logits = torch.cat([l for _, l in map(self._embed, more.split(1000))])
            preds = logits.argmax(1)
            self.real_frac = torch.bincount(preds, minlength=c).double() / logits.shape[0]
            self.present = self.real_frac >= 0.2 / c
            self.n_present = int(self.present.sum())
            # what real images score over one window: the level the judge holds samples to
            self.expected_covered, self.expected_effective, _ = self._coverage(preds[:coverage_samples].tolist())
        self.preds: deque[int] = deque(maxlen=coverage_samples)
        self.missing: list[str] = []

    def reset(self) -> None:
        """Forget the recent samples (after a rollback: they are gone)."""
        self.preds.clear()
        self.missing = []

    def _embed(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if x.dtype != torch.uint8 and x.dim() == 2:
            return x.detach().float().cpu(), None
        u8 = _as_u8(x)
        if self.evaluator is None:
            return _pixel_features(u8), None
        feats, logits = self.evaluator.embed(u8, device=u8.device)  # where the samples are: the training device
        # a self-supervised evaluator's head is a projection, not classes: diversity only
        return feats, logits if self.evaluator.class_names else None

    def _coverage(self, preds) -> tuple[int, float, list[str]]:
        """Classes covered by these predicted labels, the effective number of classes (exp of the
        entropy of their class shares: 10 for ten equal shares, lower when a few dominate), missing names."""
        c = len(self.real_frac)
        frac = torch.bincount(torch.tensor(list(preds)), minlength=c).double() / len(preds)
        covered = self.present & (frac >= 0.1 * self.real_frac)
        missing = [self.class_names[i] for i in range(c) if self.present[i] and not covered[i]]
        if len(missing) > 10:  # a list nobody reads: StackedMNIST has 1,000 modes
            missing = [*missing[:10], f"... ({len(missing) - 10} more)"]
        effective = float(torch.exp(-(frac[frac > 0] * frac[frac > 0].log()).sum()))
        return int(covered.sum()), effective, missing

    def _real_nn(self, b: int) -> float:
        # a nearest neighbour is nearer in a bigger batch: the reference uses batches of the samples' size
        if b not in self.real_nn:
            chunks = [c for c in self.real_feats.split(b) if c.shape[0] == b] or [self.real_feats]
            self.real_nn[b] = float(torch.cat([kth_radius(c, 1) for c in chunks]).median())
        return self.real_nn[b]

    def measure(self, fake: Tensor) -> dict[str, float]:
        """`diversity_ratio` (this batch's mean pairwise feature distance over the real data's) and,
        once enough samples are in, `classes_covered` (classes the evaluator finds among the recent ones)."""
        if fake.shape[0] < 2:
            return {}
        feats, logits = self._embed(fake)
        div = mean_pairwise_distance(feats)
        out = {"diversity_ratio": round(div / self.real_diversity if self.real_diversity > 0 else 1.0, 4)}
        nn, ref = kth_radius(feats, 1), self._real_nn(feats.shape[0])  # each sample to its nearest other
        if ref > 0:
            out["nn_ratio"] = round(float(nn.median()) / ref, 4)
            out["near_duplicates"] = round(float((nn < 0.25 * ref).float().mean()), 4)
        if logits is not None:
            self.preds.extend(int(v) for v in logits.argmax(1))
            if len(self.preds) >= self.preds.maxlen // 2:
                out["classes_covered"], effective, self.missing = self._coverage(self.preds)
                out["classes_effective"] = round(effective, 3)
        return out


class CollapseJudge:
    """update(row) -> the warnings this stats row starts; a function of the rows so far only.

    Nothing is judged before step `warmup`: a freshly initialised G makes near-identical images,
    and every run's samples spread out over its first few hundred steps.  After it, each sample
    signal is averaged over the last `rows` log rows, so one unlucky batch never warns:
    - saturation: D's accuracy averaged over `window` rows >= `d_acc_level` while G's mean loss rose
      by more than `g_loss_rise` from the `window` rows before;
    - diversity: a sample's nearest neighbour in its batch nearer than `nn_fraction` of a real
      image's (`nn_ratio`), or at least `duplicates` of the samples near-copies of another;
    - coverage: `classes_covered` at least max(1, 20 %) of the classes below its best so far, or
      (unconditional G only) the samples' effective number of classes below `balance` of what real
      images show over the same window (`expected_effective`; the classes when not given): a few
      classes dominate.
    The thresholds are where healthy and deliberately collapsed runs part (docs/evaluation.md).
    """

    def __init__(self, *, n_classes: int = 0, expected_effective: float = 0.0, conditional: bool = False,
                 warmup: int = 1000, rows: int = 5,
                 window: int = 10, d_acc_level: float = 0.95, g_loss_rise: float = 0.25, nn_fraction: float = 0.5,
                 duplicates: float = 0.1, balance: float = 0.75, hints: dict[str, str] | None = None):
        hints = COLLAPSE_HINTS if hints is None else hints
        self.hints = {c: f"; {h}" for c, h in hints.items()}  # condition -> what to try
        self.n_classes, self.warmup, self.window = n_classes, warmup, window
        # the effective number of classes real images show over the monitor's window (a window
        # smaller than the classes cannot show them all); the classes themselves when not given
        self.expected_effective = expected_effective or float(n_classes)
        self.d_acc_level, self.g_loss_rise = d_acc_level, g_loss_rise
        self.nn_fraction, self.duplicates, self.balance = nn_fraction, duplicates, balance
        # a conditional G's class shares are its labels': a skew there is a class it cannot draw yet
        # (the healthy default on cats and dogs starts out with most samples judged cats), not collapse
        self.judge_balance = not conditional
        self.accs: deque[float] = deque(maxlen=window)
        self.g_losses: deque[float] = deque(maxlen=2 * window)
        self.recent = {k: deque(maxlen=rows) for k in ("nn_ratio", "near_duplicates", "classes_effective")}
        self.best_covered = 0
        self.active: set[str] = set()

    def reset(self) -> None:
        """Forget the recent rows (after a rollback: the run is back at an earlier step)."""
        for q in (self.accs, self.g_losses, *self.recent.values()):
            q.clear()
        self.best_covered = 0
        self.active.clear()

    def _raise(self, name: str, condition: bool, message: str) -> list[str]:
        # warn when a condition starts; re-arm once it has cleared
        if condition and name not in self.active:
            self.active.add(name)
            return [message]
        if not condition:
            self.active.discard(name)
        return []

    def _mean(self, key: str, row: dict) -> float | None:
        """The signal's mean over the last `rows` rows, once that many rows carried it."""
        q = self.recent[key]
        if row.get(key) is not None:
            q.append(float(row[key]))
        return sum(q) / len(q) if len(q) == q.maxlen else None

    def update(self, row: dict, missing: list[str] | None = None) -> list[str]:
        step = int(row["step"])
        if step < self.warmup:
            return []
        return self._saturation(step, row) + self._diversity(step, row) + self._coverage(step, row, missing)

    def _saturation(self, step: int, row: dict) -> list[str]:
        if row.get("d_acc_real") is not None and row.get("d_acc_fake") is not None:
            self.accs.append((float(row["d_acc_real"]) + float(row["d_acc_fake"])) / 2)
        if row.get("g_loss") is not None:
            self.g_losses.append(float(row["g_loss"]))
        if len(self.accs) < self.window or len(self.g_losses) < 2 * self.window:
            return []
        acc = sum(self.accs) / self.window
        before = sum(list(self.g_losses)[: self.window]) / self.window
        now = sum(list(self.g_losses)[self.window:]) / self.window
        rising = now - before > self.g_loss_rise * max(abs(before), 0.1)
        return self._raise("saturation", acc >= self.d_acc_level and rising,
                           f"step {step}: D accuracy {acc:.3f} (near 1) while G loss climbed from {before:.3f} "
                           f"to {now:.3f}; likely cause: D has won and G's gradients vanish"
                           f"{self.hints.get('saturation', '')}")

    def _diversity(self, step: int, row: dict) -> list[str]:
        nn, dup = self._mean("nn_ratio", row), self._mean("near_duplicates", row)
        if nn is None or dup is None:
            return []
        if dup >= self.duplicates:
            what = f"{dup:.0%} of the samples are near-copies of another in their batch"
        else:
            what = f"samples lie {nn:.0%} as far from their nearest neighbour in the batch as real images do"
        return self._raise("diversity", nn < self.nn_fraction or dup >= self.duplicates,
                           f"step {step}: {what} (last {self.recent['nn_ratio'].maxlen} log rows); likely cause: "
                           f"(partial) mode collapse, many z give near-identical images"
                           f"{self.hints.get('diversity', '')}")

    def _coverage(self, step: int, row: dict, missing: list[str] | None) -> list[str]:
        if not self.n_classes:
            return []
        effective = self._mean("classes_effective", row)
        if row.get("classes_covered") is None:
            return []
        covered = int(row["classes_covered"])
        self.best_covered = max(self.best_covered, covered)
        dropped = covered <= self.best_covered - max(1, round(0.2 * self.n_classes))
        skewed = self.judge_balance and effective is not None and effective < self.balance * self.expected_effective
        if not (dropped or skewed):
            return self._raise("coverage", False, "")
        names = f"; missing: {', '.join(missing)}" if missing else ""
        what = (f"samples now cover {covered} of {self.n_classes} classes (best so far {self.best_covered}{names})"
                if dropped else
                f"a few classes dominate the samples: as varied as {effective:.1f} equal classes of the {self.n_classes} "
                f"(real images: {self.expected_effective:.1f})")
        return self._raise("coverage", True,
                           f"step {step}: {what}; likely cause: mode collapse, G dropped modes that D stopped "
                           f"penalising{self.hints.get('coverage', '')}")
