"""phases.py: what D sees (in both steps), D's objective with its penalties, G's objective with D frozen."""

import pytest
import torch
from torch import nn

from gankit.config import LossConfig
from gankit.training.losses import LOSSES
from gankit.training.objectives import DView, d_objective, frozen, g_objective, instance_noise_std
from gankit.training.penalties import gradient_penalty


def test_instance_noise_linear_anneal():
    assert instance_noise_std(0, 1000, 0.1) == pytest.approx(0.1)
    assert instance_noise_std(500, 1000, 0.1) == pytest.approx(0.05)
    assert instance_noise_std(1000, 1000, 0.1) == 0.0
    assert instance_noise_std(2000, 1000, 0.1) == 0.0
    # anneal_steps overrides the run length
    assert instance_noise_std(50, 1000, 0.2, anneal_steps=200) == pytest.approx(0.15)
    assert instance_noise_std(300, 1000, 0.2, anneal_steps=200) == 0.0
    assert instance_noise_std(10, 1000, 0.0) == 0.0


def test_dview_adds_annealed_noise_and_is_identity_when_off():
    x = torch.zeros(64, 1, 28, 28)
    assert DView()(x, 0) is x
    view = DView(noise_std=0.3, total_steps=100)
    assert view(x, 0).std().item() == pytest.approx(0.3, rel=0.05)
    assert view(x, 50).std().item() == pytest.approx(0.15, rel=0.05)
    assert torch.equal(view(x, 100), x)


def test_dview_augments_with_the_policy():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    assert not torch.equal(DView(policy=("translation", "cutout"))(x, 0), x)


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)

    def forward(self, x, y=None):
        return self.lin(x.flatten(1)).squeeze(1)


def test_g_objective_computes_no_gradient_for_d():
    D, G = _Tiny(), nn.Linear(3, 4)
    fake = G(torch.randn(5, 3))
    g_loss, fool = g_objective(D, LOSSES["ns"], fake, None, swap=False)
    g_loss.backward()
    assert all(p.grad is None for p in D.parameters())  # D frozen: nothing computed, nothing to discard
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    assert all(p.requires_grad for p in D.parameters())  # unfrozen afterwards
    assert 0.0 <= fool <= 1.0


def test_frozen_restores_each_parameters_own_flag():
    D = _Tiny()
    D.lin.bias.requires_grad_(False)
    with frozen(D):
        assert not any(p.requires_grad for p in D.parameters())
    assert D.lin.weight.requires_grad and not D.lin.bias.requires_grad


def test_d_objective_adds_the_registry_penalty_with_its_weight():
    D = _Tiny()
    real, fake = torch.randn(6, 4), torch.randn(6, 4)
    t = torch.ones(6), torch.zeros(6)
    loss = LOSSES["wgan-gp"]
    torch.manual_seed(0)
    with_gp = d_objective(D, loss, LossConfig(name="wgan-gp", gp_weight=10.0), real, fake, None, *t)
    torch.manual_seed(0)
    gp = gradient_penalty(D, real, fake)
    plain = d_objective(D, loss, LossConfig(name="wgan-gp", gp_weight=0.0), real, fake, None, *t)
    assert with_gp.total.item() == pytest.approx(plain.total.item() + 10.0 * gp.item(), rel=1e-5)
    assert LOSSES["ns"].penalty is None  # losses without a penalty add nothing
    ns = d_objective(D, LOSSES["ns"], LossConfig(gp_weight=10.0), real, fake, None, *t)
    assert ns.total.item() == pytest.approx((ns.real + ns.fake).item())
