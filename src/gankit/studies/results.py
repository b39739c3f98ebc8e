"""A study directory's results: trials, settings with mean ± std over seeds, and a ranking.

Pure functions of the study directory (study.json and each trial's trial.json /
config.json / stats.jsonl): no Optuna storage is needed, so a study run on PostgreSQL
reports from any machine that holds the trial folders.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from statistics import mean, stdev
from typing import Any

from ..errors import GankitError
from ..rundir import read_jsonl
from .spec import Axis
from .sweep import STUDY_FILE


def is_study_dir(path: str | Path) -> bool:
    return (Path(path) / STUDY_FILE).is_file()


@dataclass
class TrialResult:
    path: Path
    label: str
    params: dict[str, Any]
    repeat: int
    seed: int | None
    value: float | None  # the study's metric; None while running or when the trial failed
    error: str | None
    seconds: float | None
    config: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Setting:
    label: str
    params: dict[str, Any]
    trials: list[TrialResult] = field(default_factory=list)

    @property
    def values(self) -> list[float]:
        return [t.value for t in self.trials if t.value is not None]

    @property
    def mean(self) -> float | None:
        return mean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return stdev(self.values) if len(self.values) > 1 else None


@dataclass
class StudyResults:
    path: Path
    study: dict[str, Any]  # as written in study.json
    trials: list[TrialResult]
    settings: list[Setting]  # best first; settings without a finished trial last

    @property
    def metric(self) -> str:
        return self.study["metric"]

    @property
    def maximise(self) -> bool:
        from .spec import METRICS

        return METRICS[self.metric]

    def better(self, a: float, b: float) -> bool:
        return a > b if self.maximise else a < b


def _trial(path: Path) -> TrialResult:
    info = json.loads((path / "trial.json").read_text()) if (path / "trial.json").is_file() else {}
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else {}
    return TrialResult(path, info.get("label", path.name), info.get("params", {}), int(info.get("repeat", 0)),
                       info.get("seed"), info.get("value"), info.get("error"), info.get("seconds"), config)


def load_results(study_dir: str | Path) -> StudyResults:
    root = Path(study_dir)
    if not is_study_dir(root):
        hint = " (it is a run directory: use `gankit report RUN`)" if (root / "config.json").is_file() else ""
        raise GankitError(f"{study_dir}: not a study directory (no {STUDY_FILE}){hint}")
    study = json.loads((root / STUDY_FILE).read_text())["study"]
    trials = [_trial(p) for p in sorted((root / "trials").glob("*")) if p.is_dir()]
    by_label: dict[str, Setting] = {}
    for t in trials:
        by_label.setdefault(t.label, Setting(t.label, t.params)).trials.append(t)
    res = StudyResults(root, study, trials, [])
    sign = -1.0 if res.maximise else 1.0
    res.settings = sorted(by_label.values(), key=lambda s: (s.mean is None, sign * (s.mean or 0.0)))
    return res


def wall_seconds(study_dir: Path) -> float | None:
    """From the first trial start to the last trial end, over every session of the study."""
    starts = [r["time"] for r in read_jsonl(study_dir / "executions.jsonl") if "time" in r]
    ends = [json.loads(p.read_text()).get("finished") for p in study_dir.glob("trials/*/trial.json")]
    ends = [e for e in ends if e]
    return round(max(ends) - min(starts), 1) if starts and ends else None


# ---------------------------------------------------------------------------------------
# the plain-language ranking


@dataclass
class Comparison:
    axis: str
    winner: str  # the axis label of the better choice, e.g. "loss=hinge"
    loser: str
    diff: float  # mean paired difference, loser minus winner, in the metric's units (>= 0 is "winner better")
    spread: float | None  # std of the paired differences
    pairs: int
    significant: bool

    def sentence(self, metric: str) -> str:
        sp = f" ± {self.spread:.3g}" if self.spread is not None else ""
        pairs = f"{self.pairs} paired run{'s' if self.pairs != 1 else ''}"
        if self.pairs < 2:
            return f"{self.winner} vs {self.loser}: {self.diff:.3g} {metric} apart, one pair only, so no spread (add repeats)"
        if not self.significant:
            return (f"the difference between {self.winner} and {self.loser} is within noise "
                    f"({self.diff:.3g}{sp} {metric}, {pairs})")
        return f"{self.winner} beats {self.loser} by {self.diff:.3g}{sp} {metric} ({pairs})"


def compare_axes(res: StudyResults) -> list[Comparison]:
    """For every axis and pair of its choices: the paired difference of the metric.

    Two trials pair up when they differ only in that axis (same other choices, same seed),
    so the spread reflects seeds and the other axes, not the axis itself.  A difference
    counts as real when it exceeds twice its standard error (about 95 % for many pairs).
    """
    out = []
    axes = [a["name"] for a in res.study["axes"]]
    done = [t for t in res.trials if t.value is not None and t.params]
    for axis in axes:
        groups: dict[Any, dict[tuple, float]] = {}
        for t in done:
            rest = tuple(sorted((k, json.dumps(v)) for k, v in t.params.items() if k != axis)) + (("#", t.repeat),)
            groups.setdefault(t.params.get(axis), {})[rest] = t.value
        short = Axis(axis).short
        for a, b in combinations(groups, 2):
            keys = sorted(set(groups[a]) & set(groups[b]))
            if not keys:
                continue
            d = [groups[a][k] - groups[b][k] for k in keys]  # a minus b
            m = mean(d)
            a_better = (m > 0) if res.maximise else (m < 0)
            winner, loser = (a, b) if a_better else (b, a)
            sd = stdev(d) if len(d) > 1 else None
            sig = sd is not None and abs(m) > 2 * sd / math.sqrt(len(d))
            out.append(Comparison(short, Axis(axis).label(winner), Axis(axis).label(loser), abs(m), sd, len(d), sig))
    return out


def format_value(s: Setting) -> str:
    if s.mean is None:
        return "—"
    return f"{s.mean:.4g} ± {s.std:.2g}" if s.std is not None else f"{s.mean:.4g}"
