"""Optimizer factories get the right hyper-parameters; linear decay ends at 0."""

import pytest
import torch
from torch import nn

from gankit.config import OptimConfig
from gankit.training.clock import Clock
from gankit.training.optim import OPTIMIZERS, make_optimizers, make_schedulers


def nets():
    torch.manual_seed(0)
    return nn.Linear(3, 2), nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 1))


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop"])
def test_per_network_lr(name):
    G, D = nets()
    cfg = OptimConfig(name=name, g_lr=1e-4, d_lr=4e-4, beta1=0.0, beta2=0.9, momentum=0.5)
    og, od = make_optimizers(G, D, cfg)
    assert [g["lr"] for g in og.param_groups] == [1e-4]
    assert [g["lr"] for g in od.param_groups] == [4e-4]
    assert sum(len(g["params"]) for g in og.param_groups) == 2
    assert sum(len(g["params"]) for g in od.param_groups) == 4
    group = og.param_groups[0]
    if name == "adam":
        assert isinstance(og, torch.optim.Adam) and group["betas"] == (0.0, 0.9)
    elif name == "sgd":
        assert isinstance(og, torch.optim.SGD) and group["momentum"] == 0.5
    else:
        assert isinstance(og, torch.optim.RMSprop)
        assert group["momentum"] == 0.5 and group["alpha"] == 0.99


def test_registry_names():
    assert set(OPTIMIZERS) == {"adam", "sgd", "rmsprop"}


def test_frozen_parameters_are_left_out():
    G, D = nets()
    D[0].requires_grad_(False)
    _, od = make_optimizers(G, D, OptimConfig())
    params = od.param_groups[0]["params"]
    assert len(params) == 2 and all(p.requires_grad for p in params)


def test_no_decay_gives_no_schedulers():
    og, od = make_optimizers(*nets(), OptimConfig())
    assert make_schedulers(og, od, OptimConfig(lr_decay="none"), 100) == []


def test_linear_decay_to_zero():
    cfg = OptimConfig(lr_decay="linear", g_lr=1e-3, d_lr=2e-3)
    G, D = nets()
    og, od = make_optimizers(G, D, cfg)
    scheds = make_schedulers(og, od, cfg, total_steps=10)
    assert len(scheds) == 2
    lrs = []
    for _ in range(10):
        og.step()
        od.step()
        for s in scheds:
            s.step()
        lrs.append(og.param_groups[0]["lr"])
        if len(lrs) == 5:
            assert og.param_groups[0]["lr"] == pytest.approx(5e-4)
            assert od.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert og.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert od.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert lrs == sorted(lrs, reverse=True)


def test_linear_decay_under_a_budget_scales_the_lrs_by_the_share_left():
    cfg = OptimConfig(lr_decay="linear", g_lr=1e-3, d_lr=2e-3)
    og, od = make_optimizers(*nets(), cfg)
    clock = Clock(budget=100.0)
    scheds = make_schedulers(og, od, cfg, total_steps=10 ** 6, clock=clock)
    for before, share_left in ((25.0, 0.75), (90.0, 0.10), (150.0, 0.0)):
        clock.start(before)
        og.step()
        od.step()
        for s in scheds:
            s.step()
        assert og.param_groups[0]["lr"] == pytest.approx(1e-3 * share_left, abs=1e-7)
        assert od.param_groups[0]["lr"] == pytest.approx(2e-3 * share_left, abs=1e-7)
