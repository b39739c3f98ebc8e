"""report/checks.py through build_report: the CAS, privacy and latent-walk sections appear when
their results or files exist, escape what they show, and never inline a file metrics.json names;
RunDir.merge_metrics keeps the rest of metrics.json."""

import json

import numpy as np

from gankit.report.html import build_report
from gankit.runs.layout import create_run_dir
from gankit.util.imageio import save_image

CAS = {"n": 1000, "epochs": 2, "test": "fashion-mnist/test", "test_n": 10000, "classifier": "EvalNet widths [32, 64]",
       "accuracy": {"synthetic": 0.61, "real": 0.78, "real+synthetic": 0.8}, "ratio": 0.782, "gain": 0.02, "step": 9}
PRIVACY = {"n": 500, "train_size": 256, "test_size": 10000, "step": 9, "threshold_definition": "tau <b>def</b>",
           "pixel": {"generated": {"p01": 5.0, "p50": 7.0}, "test": {"p01": 2.6, "p50": 5.1}, "threshold": 2.6,
                     "memorisation_rate": 0.0, "exact_copies": 0},
           "pairs_png": "../../secret.png", "pairs_space": "pixel", "pairs_distances": [1.5, "x"]}


def make_run(tmp_path, metrics=None):
    run = create_run_dir(tmp_path, "r")
    run.config_file.write_text(json.dumps({"preset": "dcgan", "data": {"dataset": "fashion-mnist"}}))
    if metrics is not None:
        (run.path / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_sections_appear_only_with_their_results(tmp_path):
    page = build_report(make_run(tmp_path))
    for title in ("Classification Accuracy Score", "Privacy", "Latent walk", "Evaluation"):
        assert title not in page


def test_cas_and_privacy_sections_without_fid_metrics(tmp_path):
    run = make_run(tmp_path, {"cas": CAS, "privacy": PRIVACY})
    save_image(np.zeros((10, 20, 1), np.uint8), run.samples / "privacy_pairs.png")
    (tmp_path / "secret.png").write_bytes(b"not for the report")
    page = build_report(run)
    assert "<h2>Evaluation</h2>" not in page  # nothing but --cas/--privacy results in metrics.json
    assert "<td>synthetic (1000 images)</td><td>0.6100</td>" in page
    assert "<td>real + synthetic (2000 images)</td><td>0.8000</td>" in page and "gain +0.0200" in page
    assert "<h2>Privacy: nearest training images</h2>" in page and "<td>pixel</td><td>5.0000</td>" in page
    assert "tau &lt;b&gt;def&lt;/b&gt;" in page and "<b>def</b>" not in page
    assert "distances: 1.5</p>" in page  # the non-number is left out, not a crash
    assert page.count("data:image/png;base64") == 1  # the fixed pairs file, never the path the JSON names


def test_latent_walk_section_shows_the_strip(tmp_path):
    run = make_run(tmp_path, {"fid": 3.0})
    save_image(np.zeros((32, 62, 1), np.uint8), run.samples / "walk.png")
    page = build_report(run)
    assert "<h2>Latent walk</h2>" in page and "<h2>Evaluation</h2>" in page


def test_merge_keeps_the_other_metrics(tmp_path):
    run = make_run(tmp_path, {"fid": 3.0, "cas": {"n": 1}})
    run.merge_metrics({"privacy": {"n": 5}})
    run.merge_metrics({"cas": {"n": 2}})
    assert json.loads((run.path / "metrics.json").read_text()) == {"fid": 3.0, "cas": {"n": 2}, "privacy": {"n": 5}}
