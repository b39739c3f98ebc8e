"""docs/extending.md's four recipes, followed literally: a toy loss, model, metric and CLI verb are
registered as the page says (one table entry each; the tests add it at run time with monkeypatch,
where a contributor edits the file) and then train or run, with what each one changes checked."""

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from tiny_runs import TINY

from gankit.cli import main

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()


def _train(tmp_path, fashion_dir, *sets: str) -> Path:
    argv = ["train", "--out", str(tmp_path / "runs"), "--data-dir", str(fashion_dir), "--epochs", "1"]
    for s in [*TINY, "model.conditional=false", *sets]:
        argv += ["--set", s]
    assert main(argv) == 0
    (run,) = (tmp_path / "runs").glob("0001-*")
    return run


def test_the_page_names_the_tables_the_tests_register_into():
    for table in ("LOSSES", "MODELS", "FEATURE_METRICS", "METRICS", "VERBS"):
        assert f"{table}" in PAGE
    assert "ModelSpec(build_tiny, check," in PAGE and "FeatureMetric(" in PAGE and 'Verb("hello"' in PAGE


def test_a_loss_is_one_entry_in_losses(tmp_path, fashion_dir, monkeypatch):
    from gankit.training import losses
    from gankit.training.losses import LOSSES, Loss, _flat

    monkeypatch.setitem(LOSSES, "softplus-abs", Loss(
        d_real=lambda logits, target: F.softplus(-_flat(logits)).mean(),
        d_fake=lambda logits, target: F.softplus(_flat(logits)).mean(),
        g_loss=lambda fake_logits: F.softplus(-_flat(fake_logits)).mean(),
        uses_targets=False, threshold=0.0, description="my loss: what it is, in one line (gankit options shows it)"))
    assert losses.LOSSES["softplus-abs"].description.startswith("my loss")
    run = _train(tmp_path, fashion_dir, "loss.name=softplus-abs", "model.d_width=8")
    assert json.loads((run / "config.json").read_text())["loss"]["name"] == "softplus-abs"
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert rows and all(r["d_loss_real"] > 0 and r["d_loss_fake"] > 0 for r in rows)  # softplus is positive
    assert main(["train", "--dry-run", "--set", "loss.name=softplus-abs", "--set", "loss.real_label=0.9"]) == 2


class TinyG(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int]):
        super().__init__()
        self.z_dim, self.num_classes, self.conditional, self.shape = z_dim, 1, False, shape
        self.net = nn.Sequential(nn.Linear(z_dim, 64), nn.ReLU(), nn.Linear(64, shape[0] * shape[1] * shape[2]))

    def forward(self, z, y=None):
        return torch.tanh(self.net(z)).view(-1, *self.shape)


class TinyD(nn.Module):
    def __init__(self, shape: tuple[int, int, int]):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(shape[0] * shape[1] * shape[2], 32), nn.LeakyReLU(0.2),
                                 nn.Linear(32, 1))

    def forward(self, x, y=None):
        return self.net(x).squeeze(1)


def build_tiny(cfg, img_shape, num_classes):
    return TinyG(cfg.z_dim, img_shape), TinyD(img_shape)


def check(cfg):
    return "model.d_dropout does not apply to tiny; set it to 0" if cfg.d_dropout else None


def test_a_model_is_one_modelspec_in_models(tmp_path, fashion_dir, monkeypatch, capsys):
    from gankit.models import MODELS
    from gankit.models.spec import ModelSpec
    from gankit.runs.load import load_run

    monkeypatch.setitem(MODELS, "tiny", ModelSpec(build_tiny, check, "a tiny fully connected GAN"))
    run = _train(tmp_path, fashion_dir, "model.name=tiny", "model.d_width=8")
    loaded = load_run(run)  # rebuilt from the checkpoint's config alone
    assert isinstance(loaded.G, TinyG) and isinstance(loaded.D, TinyD)
    assert tuple(loaded.G(torch.randn(3, loaded.G.z_dim)).shape) == (3, 1, 28, 28)
    capsys.readouterr()
    assert main(["train", "--dry-run", "--set", "model.name=tiny", "--set", "model.d_dropout=0.3"]) == 2
    assert capsys.readouterr().err.strip() == ("gankit: error: invalid config: model.d_dropout does not apply to "
                                               "tiny; set it to 0")
    assert main(["options"]) == 0 and "tiny" in capsys.readouterr().out  # the registry is the CLI's choices


def test_a_metric_is_one_feature_metric_and_its_words(fashion_dir, monkeypatch):
    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.metrics import evaluate as ev
    from gankit.metrics.evaluate import FEATURE_METRICS, FeatureMetric, evaluate_samples
    from gankit.metrics.table import format_table
    from gankit.util.metric_names import METRICS, Metric

    monkeypatch.setitem(FEATURE_METRICS, "mean_gap", FeatureMetric(
        lambda f: {"mean_gap": float((f.fake.mean(0) - f.real.mean(0)).norm())}))
    monkeypatch.setitem(METRICS, "mean_gap", Metric("mean feature gap", "low",
                                                    "distance between the mean features of samples and real images"))
    real = load_dataset(DataConfig(limit=600), str(fashion_dir))
    test = load_dataset(DataConfig(split="test", limit=300), str(fashion_dir))
    noise = torch.randint(0, 256, (200, 1, 28, 28), dtype=torch.uint8)
    with pytest.warns(UserWarning):  # n below 2048: the small-n warning
        m = evaluate_samples(noise, "fashion-mnist", real, n=200, test=test, kid_subsets=5)
    assert m["mean_gap"] > 3 * m["floor_mean_gap"] > 0  # noise is far from the data, real images are not
    table = format_table(m)
    assert re.search(r"mean feature gap\s+[\d.]+\s+[\d.]+\s+low$", table, re.M), table
    assert ev.metrics_tag() != ""  # floors cached before the metric existed are computed again


def test_a_verb_is_one_line_in_verbs(monkeypatch, capsys):
    from gankit.cli import parser
    from gankit.cli.verbs import VERBS, Verb

    def cmd_hello(a):
        print(f"hello, {a.name}")
        return 0

    def hello_args(p):
        p.add_argument("name", help="who to greet")

    monkeypatch.setitem(VERBS, "hello", Verb("hello", "say hello", hello_args, cmd_hello))
    assert main(["hello", "you"]) == 0
    assert capsys.readouterr().out == "hello, you\n"
    with pytest.raises(SystemExit) as e:
        main(["hello"])
    assert e.value.code == 2
    assert not hasattr(parser, "hello_args")  # nothing but the table entry was needed
