"""Every technique switch trains on the default DCGAN and on a tutorial preset (fashion-tf2),
and every switch has a focused test of its effect (test_switch_effects_*.py; the guard below
checks that none lacks one)."""

import math

import pytest
import torch
from torch import nn

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.launch.presets import build_config
from gankit.models.layers import Dropout
from gankit.runs.checkpoint import load_state
from gankit.runs.layout import create_run_dir
from gankit.runs.load import load_run
from tiny_runs import resolved_train as train
from tests.switch_cases import BASE, SWITCHES, TINY


@pytest.fixture(scope="module")
def small_fashion():
    from tests.conftest import FASHION_SYSTEM

    if not (FASHION_SYSTEM / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    return load_dataset(DataConfig(limit=64), str(FASHION_SYSTEM))


@pytest.mark.parametrize("preset", ["dcgan", "fashion-tf2"])
@pytest.mark.parametrize("switch", list(SWITCHES))
def test_switch_trains(preset, switch, small_fashion, tmp_path):
    cfg = build_config(preset=preset, sets=BASE + TINY[preset] + SWITCHES[switch])
    run = create_run_dir(tmp_path, switch)
    run.write_config(cfg)
    summary = train(cfg, run, data=small_fashion)
    assert summary["step"] == 2
    rows = run.stats()
    assert all(math.isfinite(r["d_loss"]) for r in rows)
    g_rows = [r for r in rows if "g_loss" in r]
    assert g_rows and all(math.isfinite(r["g_loss"]) for r in g_rows)
    state = load_state(run.last_checkpoint)
    loaded = load_run(run.path)
    if switch == "ttur+decay":
        # 2 G steps of a linear decay over 2 steps: halfway after the first, 0 after the last
        assert rows[0]["lr_g"] == pytest.approx(1e-4 / 2) and rows[0]["lr_d"] == pytest.approx(4e-4 / 2)
        assert rows[-1]["lr_g"] == pytest.approx(0.0)
    if switch == "wgan-gp":
        assert len(g_rows) == 1  # n_critic=2: a G step every second D step
    if switch == "sgd":
        assert isinstance(state["opt_G"]["param_groups"][0]["momentum"], float)
        assert state["opt_G"]["param_groups"][0]["momentum"] == 0.9
    if switch == "ema":
        assert state["G_ema"] and any(not torch.equal(state["G_ema"][k], state["G"][k])
                                      for k in state["G"] if state["G"][k].is_floating_point())
    if switch == "sn":
        assert any(hasattr(m, "parametrizations") for m in loaded.D.modules())
    if switch == "dropout":
        assert [m.p for m in loaded.D.modules() if isinstance(m, Dropout)] and \
            all(m.p == 0.3 for m in loaded.D.modules() if isinstance(m, Dropout))
    if switch == "bn-d":
        assert any(isinstance(m, nn.BatchNorm2d) for m in loaded.D.modules())
    if switch == "no-bn-g":
        assert not any(isinstance(m, nn.BatchNorm2d) for m in loaded.G.modules())
    if switch == "conditional":
        assert loaded.G.conditional and any(p.name.startswith("classes_") for p in run.samples.iterdir())



def test_every_switch_has_an_effect_test():
    import tests.system.test_switch_effects_models as models
    import tests.system.test_switch_effects_training as training

    names = [n for mod in (models, training) for n in vars(mod) if n.startswith("test_")]
    for switch in SWITCHES:
        stem = "test_" + switch.replace("-", "_").replace("+", "_and_")
        assert any(n == stem or n.startswith(stem + "_") for n in names), f"no effect test for {switch}"
