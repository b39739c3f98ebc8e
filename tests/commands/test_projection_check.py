"""`gankit evaluate RUN --projection`: training and held-out images projected into G, their
reconstruction errors and gap against the held-out halves' floor, in metrics.json, the printed
table and the report; a memorising run shows a gap far above its floor, a healthy one does not."""

from __future__ import annotations

import json

import pytest
from bad_input_helpers import fails
from tiny_runs import FASHION, TINY, resolved_train, tiny_run

from gankit.cli import main
from gankit.metrics.table import projection_lines
from gankit.report.checks import projection_section


@pytest.fixture(scope="module")
def run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), False, reference_cache).path


def test_projection_writes_both_sides_their_gap_and_its_floor(run, capsys):
    assert main(["evaluate", str(run), "--projection", "--n", "8", "--data-dir", str(FASHION)]) == 0
    printed = capsys.readouterr().out
    assert "Projection: 8 training and 8 held-out images projected into G (300 steps each)" in printed
    p = json.loads((run / "metrics.json").read_text())["projection"]
    assert p["n"] == 8 and p["step"] == 4 and p["train_size"] == 256
    for key in ("pixel_mse", "feature_dist"):
        s = p[key]
        assert s["gap"] == pytest.approx(s["heldout"] - s["train"]) and s["gap_se"] > 0 and "floor_gap" in s
    assert "Memorisation by projection" in (run / "report.html").read_text()


def test_the_table_and_the_report_section_are_functions_of_the_result():
    result = {"n": 50, "steps": 300, "step": 900, "pixel_mse": {"train": 0.01, "heldout": 0.2, "gap": 0.19,
                                                                 "gap_se": 0.01, "floor_gap": 0.003, "floor_gap_se": 0.02}}
    lines = projection_lines(result)
    assert lines[0].startswith("Projection: 50 training and 50 held-out images")
    assert any(line.startswith("pixel_mse") and "0.1900 ± 0.0100" in line and "0.0030 ± 0.0200" in line for line in lines)
    html = projection_section({**result, "step": "<b>"})
    assert "<td>0.1900 ± 0.0100</td>" in html and "&lt;b&gt;" in html and "<b>" not in html
    assert projection_section(None) == "" and projection_section("forged") == ""


def test_bad_projection_requests_are_one_line(run, tmp_path, capsys):
    assert fails(["evaluate", str(run), "--projection", "--n", "1"], capsys) == (
        "--n 1: --projection needs at least 2 images a side")
    assert fails(["evaluate", str(run), "--projection", "--cas"], capsys).startswith(
        "--projection projects N images a side (default 200)")
    assert main(["export", str(run), "--out", str(tmp_path / "g")]) == 0
    assert fails(["evaluate", str(tmp_path / "g"), "--projection"], capsys).startswith(
        f"--projection: {tmp_path / 'g'} is an export")


@pytest.mark.slow
def test_the_gap_separates_a_memorising_run_from_a_healthy_one(tmp_path, reference_cache, monkeypatch):
    """Eight training images and 3,000 steps without augmentation: G draws little but those eight, so
    they reconstruct far better than unseen ones; the same nets on all 60,000 images show no gap."""
    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    monkeypatch.setenv("GANKIT_CACHE", str(reference_cache))
    common = ["model.conditional=false", "model.g_width=32", "model.d_width=16", "train.batch_size=8",
              "train.max_steps=3000", "train.epochs=100000", "train.ada=false", "train.final_eval_n=0",
              "train.sample_every=100000", "train.checkpoint_every=100000", "train.log_every=500",
              "train.progress=false", "train.tensorboard=false"]
    gaps = {}
    for name, extra in (("memorising", ["data.limit=8"]), ("healthy", [])):
        argv = ["train", "--out", str(tmp_path), "--name", name, "--data-dir", str(FASHION)]
        assert main(argv + [a for s in common + extra for a in ("--set", s)]) == 0
        run = next(tmp_path.glob(f"*-{name}"))
        assert main(["evaluate", str(run), "--projection", "--n", "8", "--data-dir", str(FASHION)]) == 0
        gaps[name] = json.loads((run / "metrics.json").read_text())["projection"]["pixel_mse"]
    memo, healthy = gaps["memorising"], gaps["healthy"]
    assert memo["gap"] > 2.5 * memo["gap_se"] and memo["gap"] > memo["floor_gap"] + 2 * memo["floor_gap_se"]
    assert abs(healthy["gap"]) < 2.5 * healthy["gap_se"]
    assert memo["gap"] > 3 * abs(healthy["gap"])
