"""`gankit train` ends a run with its evaluation (train.final_eval_n): three lines (FID beside
its floor, precision/recall with classes covered, the evaluation's own seconds) and metrics.json;
a hint instead where no evaluator for the data exists yet; nothing on an interrupted run or at
final_eval_n=0.  (The rest of the suite runs with GANKIT_FINAL_EVAL=off: tests/conftest.py.)"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main

TINY = ["model.g_width=8", "model.d_width=8", "train.batch_size=32", "train.max_steps=2", "train.progress=false",
        "train.tensorboard=false", "train.ada=false"]


def _folder(root, labelled: bool):
    rng = np.random.default_rng(0)
    for i in range(64):
        d = root / (("cat", "dog")[i % 2] if labelled else "")
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root


def _run(tmp_path):
    return next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())


def _train(tmp_path, folder, *extra):
    args = ["train", "--out", str(tmp_path / "runs"), "--set", "data.dataset=folder", "--set", f"data.path={folder}"]
    for s in TINY + list(extra):
        args += ["--set", s]
    return main(args)


@pytest.fixture
def final_eval_on(monkeypatch):
    monkeypatch.setenv("GANKIT_FINAL_EVAL", "on")


def test_a_finished_run_ends_with_its_scores_in_three_lines(tmp_path, capsys, final_eval_on):
    # a cat/dog folder: the shipped cifar10-catdog evaluator serves it
    assert _train(tmp_path, _folder(tmp_path / "catdog", True), "train.final_eval_n=300") == 0
    out = capsys.readouterr().out.splitlines()
    done = next(i for i, line in enumerate(out) if line.startswith("done: 2 steps"))
    fid, pr, took = out[done + 1:done + 4]
    metrics = json.loads(_run(tmp_path).joinpath("metrics.json").read_text())
    assert metrics["n"] == 300 and metrics["step"] == 2
    assert fid == (f"FID {metrics['fid']:.1f} (lower is better; real images score {metrics['floor_fid']:.1f} "
                   "against other real ones)")
    assert pr.startswith(f"precision {metrics['precision']:.2f} (realism), recall {metrics['recall']:.2f} (variety), "
                         f"classes covered {metrics['classes_covered']}/{metrics['classes_present']}")
    assert re.fullmatch(r"evaluated on 300 samples in \d+\.\d s, apart from the training time", took)
    assert out[done + 4].startswith("samples: ")  # where to look comes last


def test_no_evaluator_yet_gives_a_hint_instead_and_writes_no_metrics(tmp_path, capsys, final_eval_on):
    assert _train(tmp_path, _folder(tmp_path / "flat", False), "train.final_eval_n=300") == 0
    out = capsys.readouterr().out
    run = _run(tmp_path)
    assert f"no evaluator for this data yet; `gankit evaluate {run}` makes one" in out
    assert "FID" not in out and not (run / "metrics.json").exists()


@pytest.mark.parametrize("how", ["final_eval_n=0", "GANKIT_FINAL_EVAL=off"])
def test_off_by_setting_or_environment(tmp_path, capsys, monkeypatch, how):
    monkeypatch.setenv("GANKIT_FINAL_EVAL", "off" if how.startswith("GANKIT") else "on")
    extra = ["train.final_eval_n=0"] if how == "final_eval_n=0" else ["train.final_eval_n=300"]
    assert _train(tmp_path, _folder(tmp_path / "catdog", True), *extra) == 0
    run = _run(tmp_path)
    assert "FID" not in capsys.readouterr().out and not (run / "metrics.json").exists()
