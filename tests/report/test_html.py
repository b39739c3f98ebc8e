"""report/html.py: the page shows each metric beside its real-vs-real floor."""

import json
import re

from gankit.report.html import build_report
from gankit.runs.layout import create_run_dir


def test_metrics_table_puts_each_floor_beside_its_metric(tmp_path):
    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    (run.path / "metrics.json").write_text(json.dumps({"fid": 155.12, "floor_fid": 0.7199, "recall": 0.33,
                                                        "floor_recall": 0.85, "n": 10000, "notes": ["x"]}))
    run.log_event("warning", step=1000, message="step 1000: sample diversity fell")
    page = build_report(run)
    assert re.search(r"<td>fid</td><td>155.1</td><td>0.7199</td>", page)
    assert re.search(r"<td>recall</td><td>0.33</td><td>0.85</td>", page)
    assert re.search(r"<td>n</td><td>10000</td><td></td>", page)  # a count, not 1e+04
    assert "<td>floor_fid</td>" not in page  # floors are a column, not rows of their own
    assert "step 1000: step 1000" not in page and "step 1000: sample diversity fell" in page


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
