"""report/html.py: the page shows each metric beside its real-vs-real floor."""

import json
import re

from gankit.report.html import build_report
from gankit.rundir import create_run_dir


def test_metrics_table_puts_each_floor_beside_its_metric(tmp_path):
    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    (run.path / "metrics.json").write_text(json.dumps({"fid": 155.12, "floor_fid": 0.7199, "recall": 0.33,
                                                        "floor_recall": 0.85, "n": 10000, "notes": ["x"]}))
    run.log_event("warning", step=1000, message="step 1000: sample diversity fell")
    page = build_report(run)
    assert re.search(r"<td>fid</td><td>155.1</td><td>0.7199</td>", page)
    assert re.search(r"<td>recall</td><td>0.33</td><td>0.85</td>", page)
    assert re.search(r"<td>n</td><td>1e\+04</td><td></td>", page)
    assert "<td>floor_fid</td>" not in page  # floors are a column, not rows of their own
    assert "step 1000: step 1000" not in page and "step 1000: sample diversity fell" in page
