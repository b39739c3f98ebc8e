"""metrics/cas.py and `gankit evaluate --cas` on a tiny real conditional run: accuracies of the
synthetic, real and real+synthetic classifiers on the real test split, in metrics.json, the
table and the report; the real-data classifier clearly beats chance even at a small N."""

import dataclasses
import json

import pytest
import torch
from tiny_runs import FASHION, tiny_run

from gankit.cli import main
from gankit.metrics import format_table
from gankit.metrics.cas import balanced_real, classifier_recipe


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory, reference_cache):
    return tiny_run(tmp_path_factory.mktemp("runs"), True, reference_cache)


def test_evaluate_cas_on_a_tiny_conditional_run(cond_run, capsys, monkeypatch):
    import gankit.commands.checks as rc

    full = rc._test_split

    def first_3000(*args):  # three classifiers each scored on 10,000 images is most of the test's time
        test = full(*args)
        return dataclasses.replace(test, images=test.images[:3000], labels=test.labels[:3000])

    monkeypatch.setattr(rc, "_test_split", first_3000)
    args = ["evaluate", str(cond_run.path), "--cas", "--n", "500", "--cas-epochs", "3", "--data-dir", str(FASHION)]
    assert main(args) == 0
    out = capsys.readouterr().out
    cas = json.loads((cond_run.path / "metrics.json").read_text())["cas"]
    assert cas["n"] == 500 and cas["epochs"] == 3 and cas["test_n"] == 3000 and cas["step"] == 4
    assert cas["test"] == "fashion-mnist/test"
    assert list(cas["per_class"].values()) == [50] * 10  # balanced, as the real set it is compared with
    acc = cas["accuracy"]
    assert all(0.0 <= acc[k] <= 1.0 for k in ("synthetic", "real", "real+synthetic"))
    assert acc["real"] > 0.4  # 10 classes: chance is 0.1
    assert cas["gain"] == pytest.approx(acc["real+synthetic"] - acc["real"])
    assert "Classification Accuracy Score, n=500" in out and "real + synthetic (1000 images)" in out
    assert "<h2>Classification Accuracy Score</h2>" in (cond_run.path / "report.html").read_text()
    assert "augmentation gain" in format_table({"cas": cas})


def test_cas_refuses_an_unconditional_run(tmp_path_factory, reference_cache, capsys):
    run = tiny_run(tmp_path_factory.mktemp("runs"), False, reference_cache)
    capsys.readouterr()  # training's own warnings
    assert main(["evaluate", str(run.path), "--cas", "--n", "600", "--data-dir", str(FASHION)]) == 2
    err = capsys.readouterr().err
    assert "unconditional" in err and "class-conditional" in err and err.count("\n") == 1
    assert not (run.path / "metrics.json").exists()


def test_real_images_are_chosen_per_class_with_the_synthetic_counts():
    labels = torch.tensor([0] * 5 + [1] * 3 + [2] * 4)
    images = torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1)
    x, y = balanced_real(images, labels, {0: 2, 2: 3}, seed=0)
    assert y.tolist() == [0, 0, 2, 2, 2] and all(labels[int(v)] == c for v, c in zip(x.flatten(), y))
    assert torch.equal(x, balanced_real(images, labels, {0: 2, 2: 3}, seed=0)[0])  # seeded
    with pytest.raises(ValueError, match="class 1 has 3"):
        balanced_real(images, labels, {1: 4}, seed=0)


def test_classifier_follows_the_evaluator_recipe():
    assert classifier_recipe("fashion-mnist", [], 28)["widths"] == [32, 64]
    assert classifier_recipe("mnist", [], 28)["hflip"] is False  # digits are not mirrored
    plain = classifier_recipe("folder", ["a", "b"], 64)
    assert plain["recipe"] is None and plain["hflip"] is False and plain["widths"] == [32, 64, 128]
