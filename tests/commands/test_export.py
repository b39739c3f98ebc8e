"""export.py: the generator alone, and `generate` from the exported folder."""

import json

import numpy as np
import pytest

from gankit.cli import main
from gankit.launch.presets import build_config
from gankit.runs.layout import create_run_dir
from tiny_runs import resolved_train as train


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    from tests.conftest import FASHION_SYSTEM

    if not (FASHION_SYSTEM / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    cfg = build_config(sets=["data.limit=128", "model.g_width=8", "model.d_width=8", "train.batch_size=32",
                             "train.epochs=1", "train.progress=false", "train.tensorboard=false",
                             "train.ema=true", "model.conditional=true", "data.classes=Coat,Bag"])
    run = create_run_dir(tmp_path_factory.mktemp("runs"), "exp")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(FASHION_SYSTEM))
    return run


def test_export_then_generate_gives_the_runs_samples(ema_run, tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["export", str(ema_run.path), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "generator.safetensors"]
    meta = json.loads((out / "config.json").read_text())
    assert meta["format"] == "gankit-generator" and meta["sampler"] == "ema" and meta["step"] == 4
    assert [i for i, p in enumerate(meta["label_prior"]) if p > 0] == [4, 8]
    # G only: far smaller than the training checkpoint with D and both optimisers
    assert (out / "generator.safetensors").stat().st_size < ema_run.last_checkpoint.stat().st_size / 3
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["generate", str(ema_run.path), "--n", "12", "--seed", "4", "--npz", str(a)]) == 0
    assert main(["generate", str(out), "--n", "12", "--seed", "4", "--npz", str(b)]) == 0
    assert np.array_equal(np.load(a)["images"], np.load(b)["images"])
    assert np.array_equal(np.load(a)["labels"], np.load(b)["labels"])
    assert main(["generate", str(out), "--n", "3", "--class", "Bag", "--npz", str(b)]) == 0
    assert np.load(b)["labels"].tolist() == [8, 8, 8]


def test_export_refuses_a_non_empty_folder_and_generate_a_checkpoint_flag(ema_run, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["export", str(ema_run.path), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err and sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    good = tmp_path / "good"
    assert main(["export", str(ema_run.path), "--out", str(good)]) == 0
    assert main(["generate", str(good), "--n", "2", "--npz", str(tmp_path / "x.npz"), "--checkpoint", "x"]) == 2
    assert "exported generator" in capsys.readouterr().err
