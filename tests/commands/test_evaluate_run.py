"""run_eval.py: metrics.json (`gankit evaluate`) and each evals.jsonl row (periodic evaluation)
record n, the reference split and its size, and the evaluator's sha256; small n warns once."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from gankit.errors import GankitWarning
from gankit.launch.presets import build_config
from gankit.metrics.evaluator import find_evaluator_files
from gankit.runs.layout import create_run_dir, read_jsonl
from tiny_runs import resolved_train as train

N_IMAGES = 64  # 32 cats, 32 dogs: the shipped cifar10-catdog evaluator serves a cat/dog folder


@pytest.fixture
def catdog_run(tmp_path, monkeypatch):
    from gankit.metrics import evaluate as evaluate_module

    # what is recorded is the point here, not KID's spread over 100 subsets (the bulk of the time)
    kid = evaluate_module.kid
    monkeypatch.setattr(evaluate_module, "kid", lambda fake, real, subsets, seed: kid(fake, real, subsets=2, seed=seed))
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(N_IMAGES // 2):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    cfg = build_config(sets=["data.dataset=folder", f"data.path={tmp_path / 'imgs'}", "model.g_width=8",
                             "model.d_width=8", "train.batch_size=32", "train.epochs=1", "train.log_every=2",
                             "train.progress=false", "train.tensorboard=false", "train.eval_every=1",
                             "train.eval_n=40"])
    run = create_run_dir(tmp_path / "runs", "catdog")
    run.write_config(cfg)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        train(cfg, run)
    return run, [str(w.message) for w in record if issubclass(w.category, GankitWarning)]


def catdog_sha256() -> str:
    weights, _ = find_evaluator_files("cifar10-catdog")
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def test_evals_rows_and_metrics_json_record_n_reference_and_evaluator(catdog_run, capsys):
    run, train_warnings = catdog_run
    sha = catdog_sha256()
    (row,) = read_jsonl(run.evals_file)
    assert row["n"] == 40 and row["reference_split"] == "train" and row["reference"] == "folder:imgs"
    # 64 images, no test split, n=40: the reference and the floor take half of them each
    assert row["reference_size"] == N_IMAGES and row["reference_n"] == 32
    assert row["evaluator_sha256"] == sha and row["small_n_warning"] is True and "fid" in row
    assert len(train_warnings) == 1 and "n=40 samples" in train_warnings[0]  # one evaluation, one warning

    # `gankit evaluate`: the warning is one line on stderr, the table names what was measured
    assert main(["evaluate", str(run.path), "--n", "100"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert [line for line in captured.err.splitlines() if "warning" in line] == [
        "gankit: warning: FID/KID from n=100 samples (fewer than 2048) are biased and not comparable with "
        "figures at a larger n; use n >= 2048 for numbers to compare"]
    m = json.loads((run.path / "metrics.json").read_text())
    assert m["n"] == 100 and m["reference_split"] == "train" and m["reference_size"] == N_IMAGES
    assert m["reference_n"] == N_IMAGES // 2  # fewer real images than 2n: half for the reference, half for the floor
    assert m["evaluator_sha256"] == sha and m["small_n_warning"] is True
    assert f"evaluator sha256: {sha}" in out and "small n: FID/KID from n=100 samples" in out
    page = (run.path / "report.html").read_text()
    assert f"<code>{sha}</code>" in page and f"{N_IMAGES} images" in page
