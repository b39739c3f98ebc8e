"""Every built-in study runs what it ran: each one's resolved trial configs (quick and --full)
against a stored snapshot in tests/studies/snapshots/.  The studies spell their base out
([base]), so a change of a preset or of the default does not reach them; this test catches the
rest (a dataclass default, a validation rule that rewrites a key).  After an intended change:
GANKIT_UPDATE_SNAPSHOTS=1 pytest tests/studies/test_builtin_snapshots.py, and say why in the
commit."""

import json
import os
from pathlib import Path

import pytest

from gankit.config import Config, dotted
from gankit.launch.catalog import builtin_names
from gankit.studies import load_study

SNAPSHOTS = Path(__file__).parent / "snapshots"


def resolved(name: str, full: bool) -> dict:
    """The study's plan: ranking, seeds, and every setting's config (the first in full, the
    others as the keys where they differ from it), descriptions left out (labels key them)."""
    study = load_study(name, full=full)
    configs = {}
    for params in study.settings():
        cfgs = [dotted(study.config(params, r)) for r in range(study.repeats)]
        for c in cfgs:
            c.pop("description")
        configs[study.label(params)] = cfgs
    first = next(iter(configs.values()))[0]
    return {"metric": study.metric, "eval_n": study.eval_n, "repeats": study.repeats,
            "seeds": [c["train.seed"] for c in next(iter(configs.values()))],
            "first": first,
            "settings": {label: {k: v for k, v in cfgs[0].items() if first.get(k) != v}
                         for label, cfgs in configs.items()}}


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_study_resolves_to_its_snapshot(name):
    now = {"quick": resolved(name, False), "full": resolved(name, True)}
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("GANKIT_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    assert path.is_file(), f"no snapshot for the built-in study {name}: run with GANKIT_UPDATE_SNAPSHOTS=1"
    stored = json.loads(path.read_text())
    # a key added to the config since the snapshot, at its dataclass default, changes nothing a
    # study ran (new switches default to off); any other value would
    defaults = json.loads(json.dumps(dotted(Config())))
    for budget in ("quick", "full"):
        a, b = stored[budget], json.loads(json.dumps(now[budget]))  # tuples -> lists, as stored
        for k in set(b["first"]) - set(a["first"]):
            if b["first"][k] == defaults.get(k):
                del b["first"][k]
        changed = sorted(k for k in set(a["first"]) | set(b["first"]) if a["first"].get(k) != b["first"].get(k))
        assert not changed, f"{name} ({budget}): the base config changed at {changed[:5]}"
        assert a == b, f"{name} ({budget}): the planned trials changed"


def test_every_builtin_study_spells_its_base_out():
    from gankit.launch.catalog import builtin_text
    from gankit.launch.presets import read_toml

    for name in builtin_names():
        d = read_toml(builtin_text(name), name)
        assert "preset" not in d and {"data", "model", "loss", "optim", "train"} <= set(d["base"]), name


def test_a_change_of_the_default_preset_does_not_reach_a_pinned_study(monkeypatch):
    from gankit.launch import presets
    from gankit.launch.presets import load_preset

    before = resolved("fashion-ablations", False)
    real = presets.preset_text
    monkeypatch.setattr(presets, "preset_text",
                        lambda n: real(n).replace("batch_size = 32", "batch_size = 7") if n == "dcgan" else real(n))

    assert load_preset("dcgan").train.batch_size == 7  # the default did change ...
    assert resolved("fashion-ablations", False) == before  # ... and the study did not
