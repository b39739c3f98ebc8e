"""Every reader of a JSON file gankit writes and reads back (util/jsonfile.py and its callers), fed
arbitrary JSON values, values of the expected shape with arbitrary fields, and truncations of
both: each returns what it promises or raises one GankitError line naming the file, and never
another exception (an internal error).  Property-based: `pytest -k fuzz`, thorough with
HYPOTHESIS_PROFILE=thorough."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gankit.errors import GankitError

KEYS = ["step", "epoch", "time", "event", "fid", "run_id", "last_step", "events", "label", "params", "repeat",
        "seed", "value", "error", "seconds", "finished", "sha256", "arch", "in_ch", "size", "n_classes", "widths",
        "command", "format", "format_version", "shape", "study", "storage", "model", "data", "metric", "axes",
        "name", "keys", "values", "variants", "low", "high", "log", "search", "repeats", "eval_n"]
scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(KEYS), c,
                                                                                         max_size=4), max_leaves=12)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


@st.composite
def file_texts(draw, lines: bool) -> str:
    """A whole file: one JSON value (or, for a log, several rows), possibly cut short."""
    parts = draw(st.lists(objects | values, min_size=1, max_size=4)) if lines else [draw(objects | values)]
    text = "".join(json.dumps(p) + ("\n" if lines else "") for p in parts)
    if draw(st.booleans()):
        text = text[:draw(st.integers(0, max(0, len(text) - 1)))]
    return text


def _run(root: Path):
    from gankit.runs.layout import run_dir_at

    return run_dir_at(root / "run")


def _tracking(d: Path):
    from gankit.runs.tracking import read_cursor

    return read_cursor(_run(d))


def _trial(d: Path):
    from gankit.studies.results import _trial

    return _trial(_run(d).path)


def _study(d: Path):
    from gankit.studies.results import load_results

    (d / "trials").mkdir(exist_ok=True)
    return load_results(d)


def _export(d: Path):
    from gankit.runs.load import _load_export

    return _load_export(d)


def _card(d: Path):
    from gankit.metrics.evaluator import load_evaluator

    (d / "w.safetensors").write_bytes(b"not weights")
    return load_evaluator(d / "w.safetensors", d / "card.json")


def _sidecar(d: Path):
    from gankit.data.decoded import decoded_dir, load_entry

    np.save(decoded_dir() / "k.npy", np.zeros((2, 1, 4, 4), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged sidecar: one warning, and the images decoded again
        assert load_entry("k") is None or True
    return None


# file (relative to the folder), reader, is it a log
READERS = {
    "config.json": ("run/config.json", lambda d: _run(d).read_config(), False),
    "metrics.json": ("run/metrics.json", lambda d: _run(d).read_metrics(), False),
    "stats.jsonl": ("run/stats.jsonl", lambda d: _run(d).stats(), True),
    "events.jsonl": ("run/events.jsonl", lambda d: _run(d).events(), True),
    "evals.jsonl": ("run/evals.jsonl", lambda d: _run(d).evals(), True),
    "tracking.json": ("run/tracking.json", _tracking, False),
    "trial.json": ("run/trial.json", _trial, False),
    "study.json": ("study.json", _study, False),
    "export config.json": ("config.json", _export, False),
    "evaluator card": ("card.json", _card, False),
    "decoded sidecar": ("SIDECAR", _sidecar, False),
}


@pytest.mark.parametrize("name", sorted(READERS))
@given(data=st.data())
def test_a_reader_returns_or_says_one_line_naming_the_file_fuzz(name, data, tmp_path_factory):
    from gankit.data.decoded import decoded_dir

    where, reader, lines = READERS[name]
    d = tmp_path_factory.mktemp("r")
    (d / "run").mkdir()
    if where == "SIDECAR":
        decoded_dir().mkdir(parents=True, exist_ok=True)
        path = decoded_dir() / "k.json"
    else:
        path = d / where
    path.write_text(data.draw(file_texts(lines), label="text"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a torn last line's warning
            out = reader(d)
    except GankitError as e:
        message = str(e)
        assert "\n" not in message and str(path.name) in message, message
        return
    if lines:
        assert isinstance(out, list) and all(isinstance(r, dict) for r in out)
