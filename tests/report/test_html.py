"""report/html.py: the page shows each metric beside its real-vs-real floor."""

import json
import re
from pathlib import Path

from gankit.report.html import build_report
from gankit.runs.layout import create_run_dir


def test_metrics_table_puts_each_floor_beside_its_metric(tmp_path):
    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    (run.path / "metrics.json").write_text(json.dumps({"fid": 155.12, "floor_fid": 0.7199, "recall": 0.33,
                                                        "floor_recall": 0.85, "n": 10000, "notes": ["x"],
                                                        "reference_size": 60000, "reference_n": 10000,
                                                        "seconds": 30.2, "eval_seconds": 41.5, "step": 9295}))
    run.log_event("warning", step=1000, message="step 1000: sample diversity fell")
    page = build_report(run)
    assert re.search(r">FID</a></td><td>155.1</td><td>0.7199</td><td>lower</td>", page)
    assert re.search(r">recall \(k=3\)</a></td><td>0.33</td><td>0.85</td><td>higher</td>", page)
    # how it was measured is the provenance line, not rows of the metric table
    assert not re.search(r"<td>(n|reference_size|reference_n|seconds|eval_seconds|step)</td>", page)
    assert "evaluated at step 9295 in 41.5 s" in page
    assert "<td>floor_fid</td>" not in page  # floors are a column, not rows of their own
    assert "step 1000: step 1000" not in page and "step 1000: sample diversity fell" in page


def test_the_header_step_is_the_runs_last_step_not_its_last_row(tmp_path):
    # rows every 50 steps; the budget ran out (and the checkpoint was saved) at step 6926
    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    run.stats_file.write_text(json.dumps({"step": 6900, "epoch": 22.1, "time": 718.6, "img_per_s": 492.5}) + "\n")
    run.log_event("budget_spent", step=6926, seconds=721.0)
    (run.path / "metrics.json").write_text(json.dumps({"fid": 61.5, "n": 10000, "step": 6926}))
    page = build_report(run)
    assert " · 6926 steps · " in page and "evaluated at step 6926" in page
    assert " · epoch 22.1 · " in page  # no later record names an epoch: the last row's
    assert " · 721.0 s of training · " in page  # the spent budget's seconds, later than the row's


def test_the_header_epoch_is_the_final_grids_not_the_last_rows(tmp_path):
    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    run.stats_file.write_text(json.dumps({"step": 6900, "epoch": 22.1, "time": 718.6, "img_per_s": 492.5}) + "\n")
    run.log_event("budget_spent", step=6926, seconds=721.0)
    run.log_event("samples", step=6926, epoch=22.1827, fixed="samples/fixed_final.png")
    page = build_report(run)
    assert " · 6926 steps · epoch 22.1827 · " in page
    assert "Samples after epoch 22.1827" in page


def test_evaluation_names_n_the_reference_and_the_evaluator_sha256(tmp_path):
    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    metrics = {"fid": 12.0, "floor_fid": 0.7, "n": 1000, "reference": "fashion-mnist/train",
               "reference_split": "train", "reference_size": 60000, "reference_n": 1000,
               "evaluator": "fashion-mnist (0123456789ab)", "evaluator_sha256": "0123456789ab" + "f" * 52,
               "small_n_warning": True}
    (run.path / "metrics.json").write_text(json.dumps(metrics))
    page = build_report(run)
    assert ("n=1000 generated samples · reference: train split (fashion-mnist/train), 60000 images "
            "(1000 in the FID/KID subset)") in page
    assert f"<code>{metrics['evaluator_sha256']}</code>" in page
    assert "Warning: FID/KID from n=1000 samples (fewer than 2048) are biased" in page

    metrics.update(n=10000, reference_n=10000, small_n_warning=False)
    (run.path / "metrics.json").write_text(json.dumps(metrics))
    page = build_report(run)
    assert "(10000 in the FID/KID subset)" in page and "are biased" not in page


def test_an_ada_run_shows_p_and_its_curve_and_other_runs_do_not(tmp_path):
    from gankit.report.html import write_report

    pages = {}
    for name, extra in (("ada", lambda i: {"ada_p": round(0.01 * i, 3)}), ("plain", lambda i: {})):
        run = create_run_dir(tmp_path, name)
        run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "folder"},
                                               "train": {"ada": name == "ada", "ada_target": 0.6}}))
        for i in range(1, 6):
            run.append(run.stats_file, {"step": 4 * i, "epoch": i / 5, "d_loss_real": 1.0, **extra(i)})
        write_report(run)
        pages[name] = (run.path / "report.html").read_text(), sorted(p.name for p in run.plots.glob("*.png"))
    page, plots = pages["ada"]
    assert "adaptive augmentation: p <b>0.05</b>" in page and "train.ada_target=0.6" in page
    assert "ada.png" in plots
    page, plots = pages["plain"]
    assert "adaptive augmentation" not in page and "ada.png" not in plots and "losses.png" in plots


def test_each_metric_row_says_its_name_direction_meaning_and_links_its_definition(tmp_path):
    """The page reads without the docs open; every link lands on an anchor that exists."""
    from gankit.report.html import _docs_url

    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    metrics = {"fid": 20.0, "kid_mean": 0.01, "kid_std": 0.002, "cs": 8.1, "precision": 0.7, "recall": 0.5,
               "density": 0.9, "coverage": 0.7, "classes_covered": 10, "nn_dist_mean": 3.0, "memorised_frac": 0.002,
               "inception_fid": 30.0, "inception_cs": 5.0}
    (run.path / "metrics.json").write_text(json.dumps(metrics))
    page = build_report(run)
    rows = re.findall(r"<tr><td>(.*?)</td><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td><td class='meaning'>([^<]*)</td>",
                      page)
    assert len(rows) == len(metrics)
    named = {re.sub(r"<[^>]+>", "", name): (better, meaning) for name, better, meaning in rows}
    assert named["closer than 99% of real"][0] == "about 0.01"
    assert named["KID (mean)"][0] == "lower" and named["nearest-train distance"][0] == "near the floor"
    assert named["Inception score"][1].startswith("exp(") and "kid_mean" not in page
    assert all(meaning for _, meaning in named.values())
    docs = _docs_url()
    assert docs is not None  # tests run from the checkout
    anchors = set(re.findall(r"<a id=\"([^\"]+)\"></a>", (Path(docs.removeprefix("file://"))).read_text()))
    links = re.findall(r"href='[^'#]+#([^']+)'", page)
    assert len(links) == len(metrics) and set(links) <= anchors


def test_the_provenance_line_says_when_the_knn_metrics_read_fewer_samples_than_n():
    from gankit.report.html import _provenance

    base = {"reference_split": "test", "reference": "stacked-mnist/test", "reference_size": 128000, "reference_n": 26000}
    note = "precision/recall/density/coverage and nearest-training distances: the first 10000 samples"
    assert note in _provenance({**base, "n": 26000, "knn_n": 10000})
    assert "nearest-training distances" not in _provenance({**base, "n": 10000, "knn_n": 10000})
