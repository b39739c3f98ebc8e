"""Every preset trains end to end on real data (tiny budget), and conditional runs
generate the requested class."""

import numpy as np
import pytest

from gankit.cli import main
from gankit.launch.presets import build_config
from gankit.runs.layout import create_run_dir
from gankit.runs.load import load_run
from tiny_runs import resolved_train as train

QUICK = ["train.max_steps=2", "train.progress=false", "train.tensorboard=false", "train.log_every=1"]


def _data_args(preset, fashion, shared):
    """(extra --set items, data_dir) pointing each preset at real data present here."""
    if preset == "cifar-catdog":
        return ["data.dataset=folder", f"data.path={shared / 'cifar10-catdog.zip'}", "data.limit=64"], None
    if preset == "mnist-study":
        return ["data.split=test", "data.limit=256"], str(shared / "mnist")
    return ["data.limit=256"], str(fashion)


@pytest.mark.parametrize("preset", ["dcgan", "cdcgan", "tf-dcgan", "fashion-tf2", "cifar-catdog", "fashion-vogue", "mnist-study"])
def test_preset_trains_on_real_data(preset, tmp_path, fashion_dir, shared_datasets):
    extra, data_dir = _data_args(preset, fashion_dir, shared_datasets)
    sets = QUICK + extra
    if preset == "fashion-vogue":  # its full-resolution 128-channel G costs seconds per batch
        sets += ["train.batch_size=16"]
    cfg = build_config(preset=preset, sets=sets)
    run = create_run_dir(tmp_path, preset)
    run.write_config(cfg)
    summary = train(cfg, run, data_dir=data_dir)
    assert summary["step"] == 2
    rows = run.stats()
    assert [r["step"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["d_loss"]) and 0 <= r["d_acc_real"] <= 1 for r in rows)
    loaded = load_run(run.path)
    assert loaded.cfg == cfg and loaded.step == 2
    out = tmp_path / "g.npz"
    assert main(["generate", str(run.path), "--n", "4", "--npz", str(out)]) == 0
    images = np.load(out)["images"]
    c = 3 if preset == "cifar-catdog" else 1
    size = 32 if preset == "cifar-catdog" else 28
    assert images.shape == (4, size, size, c)


def test_conditional_run_generates_one_class_and_a_per_class_grid(tmp_path, fashion_dir, capsys):
    cfg = build_config(preset="cdcgan", sets=QUICK + ["data.limit=256", "model.g_width=8", "model.d_width=8"])
    run = create_run_dir(tmp_path, "cond")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    assert any(p.name.startswith("classes_") for p in run.samples.iterdir())
    out = tmp_path / "bags.npz"
    assert main(["generate", str(run.path), "--n", "5", "--class", "Bag", "--npz", str(out)]) == 0
    assert np.load(out)["labels"].tolist() == [8] * 5  # Fashion-MNIST class 8 is Bag
    assert main(["generate", str(run.path), "--n", "5", "--class", "8", "--npz", str(out)]) == 0
    assert main(["generate", str(run.path), "--n", "5", "--class", "Sock", "--npz", str(out)]) == 2
    assert "choose one of" in capsys.readouterr().err
