"""health.py: the divergence diagnosis and message, the collapse fixes, config changes
reaching the optimisers and their schedules, and the collapse watch's patience."""

import pytest
import torch

from gankit.launch.start import resolve
from gankit.data import ImageData
from gankit.launch.presets import build_config
from gankit.training.health import CollapseWatch, apply_changes, collapse_fix, divergence, divergence_message
from gankit.training.state import TrainingState


def _state(sets=()):
    cfg = build_config(sets=["model.g_width=8", "model.d_width=8", *sets])
    data = ImageData(torch.zeros(64, 1, 28, 28, dtype=torch.uint8), torch.zeros(64, dtype=torch.long), [], "x")
    return cfg, TrainingState.create(resolve(cfg, data), data, "cpu", total_steps=100)


def test_divergence_names_the_first_non_finite_network_and_quantity():
    cfg, state = _state()
    ok = torch.tensor(1.0)
    assert divergence(state, ok, ok, check_params=True) is None
    assert divergence(state, torch.tensor(float("nan")), ok, True) == ("D", "loss")
    assert divergence(state, ok, torch.tensor(float("inf")), True) == ("G", "loss")
    with torch.no_grad():
        next(state.G.parameters()).view(-1)[0] = float("nan")
    assert divergence(state, ok, None, check_params=False) is None  # weights only where asked
    assert divergence(state, ok, None, check_params=True) == ("G", "weights")
    with torch.no_grad():
        next(state.G.parameters()).view(-1)[0] = 0.0
    p = next(state.D.parameters())
    p.grad = torch.full_like(p, float("inf"))
    assert divergence(state, ok, ok, True) == ("D", "gradient")


def test_divergence_message_says_where_and_what_is_kept():
    assert divergence_message(12, "G", "gradient", "hinge", None, 0, "stop") == (
        "training diverged at step 12: G's gradient is not finite; no checkpoint had been saved yet; lower "
        "optim.g_lr/optim.d_lr, set train.on_divergence=rollback, or try model.d_spectral_norm=true")
    assert "not finite after 3 rollbacks (train.max_rollbacks); the last good checkpoint (step 40)" in \
        divergence_message(41, "D", "weights", "ns", 40, 3, "rollback")


def test_divergence_message_does_not_suggest_the_loss_in_use():
    assert "try loss.name=hinge / model.d_spectral_norm=true" in divergence_message(7, "D", "loss", "ns", 5, 0, "stop")
    hinge = divergence_message(7, "D", "loss", "hinge", 5, 0, "stop")
    assert hinge.endswith("or try model.d_spectral_norm=true") and "loss.name=hinge" not in hinge


def test_collapse_fix_is_a_change_a_running_model_can_take():
    cfg, _ = _state()
    assert collapse_fix(cfg, "diversity") == {"optim.g_lr": cfg.optim.g_lr / 2}
    assert collapse_fix(cfg, "coverage") == {"optim.g_lr": cfg.optim.g_lr / 2}
    # the default's hinge loss has no targets to smooth: instance noise is the first fix
    assert cfg.loss.name == "hinge" and collapse_fix(cfg, "saturation") == {"loss.instance_noise": 0.1}
    cfg.loss.name = "ns"
    assert collapse_fix(cfg, "saturation") == {"loss.real_label": 0.9}
    cfg.loss.real_label = 0.9
    assert collapse_fix(cfg, "saturation") == {"loss.instance_noise": 0.1}
    cfg.loss.instance_noise = 0.1
    assert collapse_fix(cfg, "saturation") == {"optim.d_lr": cfg.optim.d_lr / 2}
    hinge, _ = _state(["loss.name=hinge"])  # no targets to smooth
    assert collapse_fix(hinge, "saturation") == {"loss.instance_noise": 0.1}


def test_apply_changes_reaches_optimiser_and_linear_schedule():
    cfg, state = _state(["optim.lr_decay=linear", "optim.g_lr=4e-4", "optim.d_lr=2e-4"])
    state.opt_g.step()  # (no gradients: nothing moves) the order torch expects
    state.opt_d.step()
    for _ in range(50):  # half way: lr = base * 0.5
        for s in state.schedulers:
            s.step()
    apply_changes(cfg, state, {"optim.g_lr": 1e-4, "loss.real_label": 0.9})
    assert cfg.optim.g_lr == 1e-4 and cfg.loss.real_label == 0.9
    assert state.opt_g.param_groups[0]["lr"] == pytest.approx(0.5e-4)
    assert state.opt_d.param_groups[0]["lr"] == pytest.approx(1e-4)  # D untouched
    state.schedulers[0].step()  # the schedule goes on from the new base
    assert state.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4 * (1 - 51 / 100))


def test_collapse_watch_fires_after_patience_rows_in_a_row():
    w = CollapseWatch(3)
    assert [w.update(a) for a in ({"diversity"}, {"diversity"}, set(), {"diversity"}, {"diversity"},
                                  {"diversity", "coverage"})] == [None, None, None, None, None, "diversity"]
    w.reset()
    assert w.update({"coverage"}) is None
