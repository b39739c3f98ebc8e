"""A study directory's results: trials, settings with mean ± std over seeds, and a ranking.

Pure functions of the study directory (study.json and each trial's trial.json /
config.json / stats.jsonl): no Optuna storage is needed, so a study run on PostgreSQL
reports from any machine that holds the trial folders.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, stdev
from typing import Any

from gankit.errors import GankitError
from gankit.runs.layout import STUDY_FIX, RunDir, StudyDir
from gankit.util.jsonfile import NUMBER, DamagedFile, check_fields, read_jsonl, read_object, short_json
from gankit.studies.spec import Axis


def is_study_dir(path: str | Path) -> bool:
    return StudyDir(Path(path)).is_study()


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
    finished: float | None = None  # wall-clock time (epoch seconds) the trial ended
    metrics: dict[str, Any] = field(default_factory=dict)  # its metrics.json

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
    storage: str = ""  # as study.json records it: "sqlite (study.db)" or the (redacted) URL

    @property
    def metric(self) -> str:
        return self.study["metric"]

    @property
    def maximise(self) -> bool:
        from gankit.studies.spec import METRICS

        return METRICS[self.metric]

    def better(self, a: float, b: float) -> bool:
        return a > b if self.maximise else a < b


TRIAL_FIX = ("the trial's files are damaged: restore it, or delete the trial's directory and run the sweep again "
             "(it trains that trial anew; gankit changed nothing)")
TRIAL_TYPES = {"label": str, "params": dict, "repeat": int, "seed": int, "value": NUMBER, "error": str,
               "seconds": NUMBER, "finished": NUMBER}


def _trial(path: Path) -> TrialResult:
    def read(file: Path) -> dict:
        return read_object(file, TRIAL_FIX) if file.is_file() else {}  # absent: a trial not yet written

    run = RunDir(path)
    info = read(run.trial_file)
    check_fields(info, TRIAL_TYPES, run.trial_file, TRIAL_FIX)
    return TrialResult(path, info.get("label", path.name), info.get("params", {}), int(info.get("repeat", 0)),
                       info.get("seed"), info.get("value"), info.get("error"), info.get("seconds"),
                       read(run.config_file), info.get("finished"), run.read_metrics())


def load_results(study_dir: str | Path) -> StudyResults:
    root = Path(study_dir)
    if not is_study_dir(root):
        hint = " (it is a run directory: use `gankit report RUN`)" if RunDir(root).config_file.is_file() else ""
        raise GankitError(f"{study_dir}: not a study directory (no {StudyDir(root).study_file.name}){hint}")
    recorded = read_object(StudyDir(root).study_file, STUDY_FIX)
    study = recorded.get("study")
    if not isinstance(study, dict):
        raise GankitError(f"{StudyDir(root).study_file}: has no study in it; {STUDY_FIX}")
    _check_study(study, StudyDir(root).study_file)
    trials = [_trial(p) for p in sorted(StudyDir(root).trials.glob("*")) if p.is_dir()]
    by_label: dict[str, Setting] = {}
    for t in trials:
        by_label.setdefault(t.label, Setting(t.label, t.params)).trials.append(t)
    res = StudyResults(root, study, trials, [], str(recorded.get("storage") or ""))
    sign = -1.0 if res.maximise else 1.0
    res.settings = sorted(by_label.values(), key=lambda s: (s.mean is None, sign * (s.mean or 0.0)))
    return res


def _check_study(study: dict[str, Any], file: Path) -> None:
    """The fields of study.json's study that the results and the page read, each of its kind."""
    from gankit.studies.spec import METRICS

    if study.get("metric") not in METRICS:
        raise DamagedFile(f"{file}: its study ranks by {short_json(study.get('metric'))}, not one of gankit's metrics "
                          f"({', '.join(METRICS)}); {STUDY_FIX}")
    axes = study.get("axes")
    if not isinstance(axes, list) or not all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in axes):
        raise DamagedFile(f"{file}: its study's axes are not a list of named axes; {STUDY_FIX}")
    for a in axes:
        check_fields(a, {"keys": list, "values": list, "variants": dict, "low": NUMBER, "high": NUMBER,
                         "log": bool}, file, STUDY_FIX)


def wall_seconds(res: StudyResults) -> float | None:
    """From the first trial start to the last trial end, over every session of the study."""
    starts = [r["time"] for r in read_jsonl(StudyDir(res.path).executions, types={"time": NUMBER}) if "time" in r]
    ends = [t.finished for t in res.trials if t.finished]
    return round(max(ends) - min(starts), 1) if starts and ends else None


def busy_seconds(res: StudyResults) -> float | None:
    """The time some trial was running: the union of the finished trials' (end - seconds, end).

    Pauses between sessions of a resumed study are left out, and so is the work of a trial
    that was stopped and started again (only its last execution has an end)."""
    spans = sorted((t.finished - t.seconds, t.finished) for t in res.trials if t.finished and t.seconds)
    total, start, end = 0.0, None, None
    for a, b in spans:
        if end is not None and a <= end:
            end = max(end, b)
            continue
        if end is not None:
            total += end - start
        start, end = a, b
    return round(total + (end - start), 1) if spans else None


def wall_text(res: StudyResults) -> str:
    """'wall time W min', with the time trials ran beside it when pauses made the two differ."""
    wall, busy = wall_seconds(res), busy_seconds(res)
    if not wall:
        return ""
    if busy and wall - busy > 60:
        return f"wall time {wall / 60:.1f} min ({busy / 60:.1f} min of it with trials running)"
    return f"wall time {wall / 60:.1f} min"


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
        sp = f" ± {_num(self.spread)}" if self.spread is not None else ""
        pairs = f"{self.pairs} paired run{'s' if self.pairs != 1 else ''}"
        if self.pairs < 2:
            return f"{self.winner} vs {self.loser}: {_num(self.diff)} {metric} apart, one pair only, so no spread (add repeats)"
        if not self.significant:
            return (f"the difference between {self.winner} and {self.loser} is within noise "
                    f"({_num(self.diff)}{sp} {metric}, {pairs})")
        return f"{self.winner} beats {self.loser} by {_num(self.diff)}{sp} {metric} ({pairs})"


def _num(x: float) -> str:
    """3 significant digits, without exponents for the large numbers FIDs are."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


# two-sided 95 % critical values of Student's t by degrees of freedom (pairs - 1)
_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23,
        12: 2.18, 15: 2.13, 20: 2.09, 30: 2.04, 60: 2.00}


def t95(df: int) -> float:
    return _T95[max(k for k in _T95 if k <= df)]  # the next smaller df: errs towards "within noise"


def axis_of(d: dict[str, Any]) -> Axis:
    """An Axis back from study.json."""
    return Axis(d["name"], tuple(d.get("keys", ())), tuple(d.get("values", ())), d.get("variants") or {},
                d.get("low"), d.get("high"), bool(d.get("log", False)))


def compare_axes(res: StudyResults) -> list[Comparison]:
    """Each choice of every axis against the axis's first choice (the baseline, the first value).

    Two trials pair up when they differ only in that axis (same other choices, same seed),
    so the spread reflects seeds and the other axes, not the axis itself.  A difference is
    called real when a paired t-test rejects "no difference" at the 5 % level.  Range axes
    (random or TPE search over numbers) rarely pair and are left to the table.
    """
    out = []
    done = [t for t in res.trials if t.value is not None and t.params]
    for axis in map(axis_of, res.study["axes"]):
        if axis.kind == "range":
            continue
        groups: dict[Any, dict[tuple, float]] = {}
        for t in done:
            rest = tuple(sorted((k, json.dumps(v)) for k, v in t.params.items() if k != axis.name))
            groups.setdefault(t.params.get(axis.name), {})[rest + (("#", t.repeat),)] = t.value
        ref = next((c for c in axis.choices if c in groups), None)
        for other in (c for c in axis.choices if c in groups and c != ref):
            keys = sorted(set(groups[ref]) & set(groups[other]))
            if not keys:
                continue
            d = [groups[other][k] - groups[ref][k] for k in keys]
            m = mean(d)
            other_better = (m > 0) if res.maximise else (m < 0)
            winner, loser = (other, ref) if other_better else (ref, other)
            sd = stdev(d) if len(d) > 1 else None
            sig = sd is not None and (sd == 0 and m != 0 or sd > 0 and abs(m) / (sd / math.sqrt(len(d))) > t95(len(d) - 1))
            out.append(Comparison(axis.short, axis.label(winner), axis.label(loser), abs(m), sd, len(d), sig))
    return out


def format_value(s: Setting) -> str:
    if s.mean is None:
        return "—"
    if s.std is None:
        return f"{s.mean:.4g}"
    return f"{s.mean:.4g} ± {s.std:.2g}" if s.std < 100 else f"{s.mean:.4g} ± {s.std:.0f}"  # no 1.7e+02
