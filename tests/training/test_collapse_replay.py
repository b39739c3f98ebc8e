"""The collapse monitor's rule on recorded runs: silent on healthy ones, warns on collapsed ones.

tests/training/data/collapse/ holds the stats rows (the columns the judge reads) of real runs made
by `python bench/collapse_rates.py --catdog ../shared/datasets/cifar10-catdog.zip
--save-fixtures tests/training/data/collapse` on 2026-12-06: the default preset on
Fashion-MNIST with three seeds and on cats and dogs (healthy), and runs made to collapse on
purpose (`partial`, `full`, `noms`: see the bench script).  Their final evaluations are in
docs/evaluation.md's table.  A rule change that breaks this test changes what users are told.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gankit.training.collapse import CollapseJudge

DATA = Path(__file__).parent / "data" / "collapse"
RUNS = json.loads((DATA / "runs.json").read_text())  # name -> healthy, conditional, classes, final scores
HEALTHY = sorted(n for n, r in RUNS.items() if r["healthy"])
# what each deliberately collapsed run must be warned of
EXPECTED = {"f-full": {"diversity", "coverage"}, "f-noms": {"diversity"}, "f-partial": {"coverage"},
            "c-full": {"diversity", "coverage"}, "c-partial": {"diversity", "coverage"}}


def replay(name: str, **rule) -> tuple[list[str], set[str]]:
    rows = [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]
    judge = CollapseJudge(**{"n_classes": RUNS[name]["n_classes"], "conditional": RUNS[name]["conditional"], **rule})
    warnings, fired = [], set()
    for row in rows:
        new = judge.update(row)
        if new:
            fired |= judge.active
        warnings += new
    return warnings, fired


def test_the_recorded_runs_are_what_they_say():
    assert set(HEALTHY) == {"f-default-s0", "f-default-s1", "f-default-s2", "c-default"}
    assert set(EXPECTED) == set(RUNS) - set(HEALTHY)
    # collapsed by their own end-of-run evaluation: next to no variety
    assert all(RUNS[n]["recall"] <= 0.2 for n in EXPECTED)
    assert all(RUNS[n]["recall"] >= 0.4 for n in HEALTHY if n.startswith("f-"))


@pytest.mark.parametrize("name", HEALTHY)
def test_no_warning_on_a_healthy_default_run(name):
    warnings, _ = replay(name)
    assert warnings == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_collapsed_run_is_warned_of_what_collapsed(name):
    warnings, fired = replay(name)
    assert warnings and EXPECTED[name] <= fired
    assert all("likely cause" in w and "try:" in w for w in warnings)


def test_class_shares_are_judged_for_an_unconditional_g_only():
    # the default on cats and dogs starts out drawing mostly what the classifier calls cats: for a
    # conditional G that is a class it cannot draw yet, not a collapse
    assert replay("c-default", conditional=False)[1] == {"coverage"}
    assert replay("c-default")[0] == []
