"""A study: a base config plus axes over config keys, searched by grid, random or TPE.

Study files are TOML; the built-in ones live in gankit/studies/builtin/:

    description = "one line"
    preset = "dcgan"          # the base config: a preset, or (never both) a [base] table
    [base.model]              # ... spelled out, so a change of the preset cannot change the study
    name = "dcgan"            # (every built-in study spells its base out: tests/studies/snapshots/)
    search = "grid"           # grid | random | tpe
    trials = 0                # random / tpe: how many settings (grid: all of them)
    repeats = 3               # seeds per setting: train.seed = the config's seed + repeat
    metric = "fid"            # a metric of `gankit evaluate`, measured at the end of each trial
    eval_n = 2000             # samples in that evaluation
    [set]                     # ... with these overrides (any dotted config key)
    "train.epochs" = 2
    [axes]
    "loss.name" = ["bce", "ns", "hinge"]                               # values of one key
    lr = {keys = ["optim.g_lr", "optim.d_lr"], values = [1e-4, 2e-4]} # keys moved together
    "optim.g_lr" = {low = 1e-5, high = 1e-3, log = true}             # a range (random, tpe)
    variant = {variants = {baseline = {}, smoothing = {"loss.real_label" = 0.9}}}
    [full]                    # `--full`: the original experiment's budget; replaces the
    repeats = 3               # top-level keys it names and adds to [set]
    [full.set]
    "train.epochs" = 25
    [[published]]             # a paper's figure for one setting, shown beside the study's own
    setting = "loss=hinge"    # in its report (the experiment does not depend on these rows)
    source = "paper, table"
    setup = "how it was run"  # optional
    fid = 30.1                # one or more metrics of METRICS

A setting is one choice per axis; a trial is one setting with one seed, trained into one
ordinary run directory.  Every setting's config is built and validated when the study is
loaded, before anything trains.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.config import Config, apply_dict, field_types, parse_set, set_value
from gankit.errors import GankitError, did_you_mean
from gankit.launch.catalog import builtin_names, builtin_text
from gankit.launch.presets import load_preset, read_toml, validate
from gankit.util.names import slug

SEARCHES = ("grid", "random", "tpe")
# metrics of `gankit evaluate` a study can rank by, and whether higher is better
METRICS = {"fid": False, "kid_mean": False, "nn_dist_mean": True, "cs": True, "precision": True,
           "recall": True, "density": True, "coverage": True, "classes_covered": True,
           "modes_covered": True, "modes_kl": False}  # StackedMNIST's mode coverage (metrics/modes.py)
_TOP_KEYS = {"description", "preset", "base", "search", "trials", "repeats", "metric", "eval_n", "seed", "set", "axes",
             "full", "published"}
_PUBLISHED_TEXT = ("setting", "source", "setup")


@dataclass(frozen=True)
class Axis:
    """One dimension of a study: named values of one or more tied keys, named override
    groups (variants), or a numeric range (random and TPE search only)."""

    name: str
    keys: tuple[str, ...] = ()
    values: tuple = ()  # one value per choice (values axes)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {key: value}
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def kind(self) -> str:
        return "variants" if self.variants else "range" if self.low is not None else "values"

    @property
    def short(self) -> str:
        """The name shown in labels: loss.name -> loss, optim.g_lr -> g_lr."""
        n = self.name
        return n[:-5] if n.endswith(".name") else n.rsplit(".", 1)[-1]

    @property
    def choices(self) -> tuple:
        """What Optuna records for this axis: plain scalars (lists become JSON text)."""
        if self.kind == "variants":
            return tuple(self.variants)
        return tuple(v if isinstance(v, (str, int, float, bool)) else json.dumps(v) for v in self.values)

    def overrides(self, choice: Any) -> dict[str, Any]:
        if self.kind == "variants":
            return dict(self.variants[choice])
        value = self.values[self.choices.index(choice)] if self.kind == "values" else choice
        return {k: value for k in self.keys}

    def label(self, choice: Any) -> str:
        text = f"{choice:.3g}" if isinstance(choice, float) else str(choice)
        return f"{self.short}={text}"


@dataclass(frozen=True)
class Study:
    name: str
    description: str = ""
    preset: str = "dcgan"
    base: dict[str, Any] = field(default_factory=dict)  # the config's sections spelled out (instead of a preset)
    search: str = "grid"
    trials: int = 0
    repeats: int = 1
    metric: str = "fid"
    eval_n: int = 2000
    seed: int = 0  # seeds the random and TPE searches (training seeds come from the config)
    sets: dict[str, Any] = field(default_factory=dict)  # the study's overrides, then the user's --set
    axes: tuple[Axis, ...] = ()
    full: bool = False
    published: tuple[dict[str, Any], ...] = ()  # papers' figures for the report, not part of the experiment

    @property
    def maximise(self) -> bool:
        return METRICS[self.metric]

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("name", "description", "preset", "base", "search", "trials", "repeats",
                                             "metric", "eval_n", "seed", "sets", "full")}
        d["axes"] = [{"name": a.name, "keys": list(a.keys), "values": list(a.values), "variants": a.variants,
                      "low": a.low, "high": a.high, "log": a.log} for a in self.axes]
        d["published"] = [dict(p) for p in self.published]
        return d

    def experiment(self) -> dict[str, Any]:
        """What makes two studies the same experiment: to_dict() less its words (description,
        published figures), which may be corrected while the study runs or resumes."""
        return {k: v for k, v in self.to_dict().items() if k not in ("description", "published")}

    # -- settings and their configs

    def settings(self) -> list[dict[str, Any]]:
        """The planned settings ({axis name: choice}); TPE plans none, it asks as it goes."""
        grid = [dict(zip([a.name for a in self.axes], combo))
                for combo in itertools.product(*[a.choices for a in self.axes])] if self.search != "tpe" else []
        if self.search == "grid":
            return grid
        if self.search == "random":
            rng = random.Random(self.seed)
            if not any(a.kind == "range" for a in self.axes):
                return rng.sample(grid, min(self.trials, len(grid)))  # distinct settings
            return [{a.name: _draw(a, rng) for a in self.axes} for _ in range(self.trials)]
        return []

    def label(self, params: dict[str, Any]) -> str:
        return " · ".join(a.label(params[a.name]) for a in self.axes) or "base"

    def config(self, params: dict[str, Any], repeat: int = 0) -> Config:
        """The validated config of one trial: preset (or [base]), study overrides, the setting, the seed."""
        if self.base:  # the dataclass defaults, then the study's own base: no preset in between
            cfg = apply_dict(Config(), self.base, f"study {self.name} [base]")
            cfg.preset = f"study {self.name}"
        else:
            cfg = load_preset(self.preset)
        for key, value in self.sets.items():
            set_value(cfg, key, value)
        for a in self.axes:
            for key, value in a.overrides(params[a.name]).items():
                set_value(cfg, key, value)
        set_value(cfg, "train.seed", cfg.train.seed + repeat)
        cfg.description = f"{self.name}: {self.label(params)} (seed {cfg.train.seed})"
        return validate(cfg)

    def check(self) -> None:
        """Build every planned setting's config (range ends for TPE), so typos fail before training."""
        probes = self.settings() or [
            {a.name: (a.low if a.kind == "range" else a.choices[0]) for a in self.axes},
            {a.name: (a.high if a.kind == "range" else a.choices[-1]) for a in self.axes}]
        for params in probes:
            try:
                self.config(params)
            except GankitError as e:
                raise GankitError(f"study {self.name}, setting {self.label(params)}: {e}") from None


def _draw(a: Axis, rng: random.Random) -> Any:
    if a.kind != "range":
        return rng.choice(a.choices)
    if a.log:
        import math

        return math.exp(rng.uniform(math.log(a.low), math.log(a.high)))
    return rng.uniform(a.low, a.high)


# ---------------------------------------------------------------------------------------
# reading study files


def _axis(name: str, spec: Any, where: str) -> Axis:
    keys = field_types()
    if isinstance(spec, list):
        spec = {"keys": [name], "values": spec}
    if not isinstance(spec, dict):
        raise GankitError(f"{where}: axis {name!r} must be a list of values or a table")
    unknown = set(spec) - {"keys", "values", "variants", "low", "high", "log"}
    if unknown:
        raise GankitError(f"{where}: axis {name!r} has unknown fields {sorted(unknown)}")
    if "variants" in spec:
        variants = spec["variants"]
        if not isinstance(variants, dict) or not variants or not all(isinstance(v, dict) for v in variants.values()):
            raise GankitError(f"{where}: axis {name!r}: variants must be a table of tables of overrides")
        for group in variants.values():
            for k in group:
                if k not in keys:
                    raise GankitError(f"{where}: axis {name!r}: unknown config key {k!r}")
        return Axis(name, tuple(sorted({k for g in variants.values() for k in g})), variants=variants)
    axis_keys = _axis_keys(name, spec, where)
    for k in axis_keys:
        if k not in keys:
            raise GankitError(f"{where}: axis {name!r}: unknown config key {k!r} (see `gankit options`)")
    if "low" in spec or "high" in spec:
        low, high = spec.get("low"), spec.get("high")
        if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high):
            raise GankitError(f"{where}: axis {name!r}: a range needs numbers low < high")
        if spec.get("log") and low <= 0:
            raise GankitError(f"{where}: axis {name!r}: a log range needs low > 0")
        return Axis(name, axis_keys, low=float(low), high=float(high), log=bool(spec.get("log", False)))
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        raise GankitError(f"{where}: axis {name!r} needs a non-empty list of values")
    return Axis(name, axis_keys, values=tuple(values))


def _axis_keys(name: str, spec: dict[str, Any], where: str) -> tuple[str, ...]:
    keys = spec.get("keys", [name])
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        # an axis that sets no key would yield settings that change nothing, and the report would rank them
        raise GankitError(f"{where}: axis {name!r}: keys must be a non-empty list of config keys")
    return tuple(keys)


# the type of each top-level key of a study file (TOML gives ints, floats, strings, tables)
_TYPES: dict[str, tuple[type, str]] = {
    "description": (str, "a string"), "preset": (str, "a preset name"), "base": (dict, "a table of config sections"), "search": (str, "grid, random or tpe"),
    "trials": (int, "an integer"), "repeats": (int, "an integer"), "metric": (str, "a metric name"),
    "eval_n": (int, "an integer"), "seed": (int, "an integer"), "set": (dict, "a table of config keys"),
    "axes": (dict, "a table of axes"), "full": (dict, "a table ([full])"),
    "published": (list, "an array of tables ([[published]])"),
}


def _check_types(d: dict[str, Any], where: str) -> None:
    unknown = sorted(set(d) - _TOP_KEYS)
    if unknown:
        hint = did_you_mean(unknown[0], sorted(_TOP_KEYS)) if len(unknown) == 1 else ""
        raise GankitError(f"{where}: unknown keys {unknown}{hint}; a study file has {sorted(_TOP_KEYS)}")
    for key, value in d.items():
        tp, what = _TYPES[key]
        if not isinstance(value, tp) or isinstance(value, bool):
            raise GankitError(f"{where}: {key} = {repr(value)[:40]} should be {what}")


def parse_study(d: dict[str, Any], name: str, where: str, full: bool = False, sets: list[str] | None = None) -> Study:
    """A Study from a parsed study file, with `--full` and the user's `--set` applied."""
    _check_types(d, where)
    if "base" in d and "preset" in d:
        raise GankitError(f"{where}: give a preset or a [base] table, not both ([base] spells the preset out)")
    if isinstance(d.get("base"), dict) and "preset" in d["base"]:  # Config.preset is a label: no preset would apply
        raise GankitError(f"{where} [base]: preset = {d['base']['preset']!r} would apply no preset ([base] spells every "
                          "setting out from the built-in defaults); give preset = NAME at the top instead of [base], "
                          "or spell that preset's settings out in [base]")
    if "base" in d.get("full", {}):
        raise GankitError(f"{where} [full]: [base] belongs at the top; [full.set] changes keys of it")
    if "full" in d.get("full", {}):
        raise GankitError(f"{where} [full]: a [full] table cannot hold another")
    _check_types(d.get("full", {}), f"{where} [full]")
    d = dict(d)
    study_sets = dict(d.pop("set", {}))
    full_part = d.pop("full", {})
    if full:
        study_sets.update(full_part.get("set", {}))
        d.update({k: v for k, v in full_part.items() if k != "set"})
    if "base" in d:
        d["preset"] = ""  # the base is the study's own, from no preset
    axes = tuple(_axis(n, s, where) for n, s in d.pop("axes", {}).items())
    d["published"] = tuple(d.get("published", ()))
    user = dict(parse_set(s) for s in sets or [])
    clash = sorted(set(user) & {k for a in axes for k in a.keys})
    if clash:
        raise GankitError(f"--set {clash[0]}: the study varies this key; use another study file to fix it")
    study_sets.update(user)
    try:
        study = Study(name=name, sets=study_sets, axes=axes, full=full, **d)
    except TypeError as e:
        raise GankitError(f"{where}: {e}") from None
    if study.search not in SEARCHES:
        raise GankitError(f"{where}: search={study.search!r}; choose one of: {', '.join(SEARCHES)}")
    if study.metric not in METRICS:
        raise GankitError(f"{where}: metric={study.metric!r}; choose one of: {', '.join(METRICS)}")
    if study.repeats < 1 or study.eval_n < 1:
        raise GankitError(f"{where}: repeats and eval_n must be >= 1")
    if study.search != "grid" and study.trials < 1:
        raise GankitError(f"{where}: search={study.search} needs trials >= 1")
    if study.search == "grid" and any(a.kind == "range" for a in axes):
        raise GankitError(f"{where}: a grid needs lists of values; ranges are for search=random or tpe")
    _check_published(study, where)
    study.check()
    return study


def _check_published(study: Study, where: str) -> None:
    """Each [[published]] row names one of the study's settings, its source, and metric values."""
    labels = [study.label(p) for p in study.settings()]
    for i, row in enumerate(study.published, 1):
        at = f"{where} [[published]] row {i}"
        if not isinstance(row, dict) or not isinstance(row.get("source"), str) or not row["source"].strip():
            raise GankitError(f"{at}: needs source = \"paper, table\" (where the figures were read)")
        if row.get("setting") not in labels:
            raise GankitError(f"{at}: setting = {row.get('setting')!r} is none of the study's settings "
                              f"({', '.join(labels) or 'none planned'})")
        metrics = {k: v for k, v in row.items() if k not in _PUBLISHED_TEXT}
        bad = [k for k, v in metrics.items() if k not in METRICS or not isinstance(v, (int, float)) or isinstance(v, bool)]
        if bad or not metrics:
            raise GankitError(f"{at}: {bad[0] + ' is not' if bad else 'no'} a metric value; give numbers for "
                              f"metrics of: {', '.join(METRICS)}")
        if not isinstance(row.get("setup", ""), str):
            raise GankitError(f"{at}: setup should be a string")


def load_study(name_or_file: str, full: bool = False, sets: list[str] | None = None) -> Study:
    """A built-in study by name, or a study TOML file."""
    if name_or_file in builtin_names():
        text = builtin_text(name_or_file)
        name, where = name_or_file, f"study {name_or_file}"
    elif Path(name_or_file).is_file():
        where = name_or_file
        try:
            text = Path(name_or_file).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise GankitError(f"{where}: not a UTF-8 text file; a study file is TOML (docs/studies.md)") from None
        name = slug(Path(name_or_file).stem)
    else:
        raise GankitError(f"no study {name_or_file!r}: give a study TOML file or a built-in study "
                          f"({', '.join(builtin_names())})")
    return parse_study(read_toml(text, where), name, where, full, sets)
