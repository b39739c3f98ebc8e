"""Gradient penalties against closed forms for linear and quadratic critics; the mode-seeking term by hand."""

import pytest
import torch
from torch import nn

from gankit.training.penalties import gradient_penalty, mode_seeking, r1_penalty


class Linear(nn.Module):
    """D(x) = w . x (+ y): its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.calls_with_y = 0

    def forward(self, x, y=None):
        out = (x.flatten(1) * self.w.flatten()).sum(1)
        if y is not None:
            self.calls_with_y += 1
            out = out + y.float()
        return out


class Quadratic(nn.Module):
    """D(x) = sum(a * x^2): input gradient 2 a x."""

    def __init__(self, a: torch.Tensor):
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, x):
        return (self.a * x.pow(2)).flatten(1).sum(1)


def test_gp_linear_critic_is_norm_minus_one_squared():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 3, 3, generator=g)
    w = w * (3.0 / w.norm())  # ||w|| = 3 -> penalty (3 - 1)^2 = 4 for every interpolate
    D = Linear(w)
    real, fake = torch.randn(5, 2, 3, 3, generator=g), torch.randn(5, 2, 3, 3, generator=g)
    gp = gradient_penalty(D, real, fake)
    assert gp.item() == pytest.approx(4.0, rel=1e-5)
    # create_graph: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gp.backward()
    assert torch.allclose(D.w.grad, 2 * (3 - 1) * w / 3, atol=1e-5)


def test_gp_conditional_calls_d_with_y():
    w = torch.zeros(4)
    w[0] = 0.5  # ||w|| = 0.5 -> (0.5 - 1)^2
    D = Linear(w)
    gp = gradient_penalty(D, torch.randn(3, 4), torch.randn(3, 4), y=torch.tensor([0, 1, 2]))
    assert D.calls_with_y == 1
    assert gp.item() == pytest.approx(0.25, rel=1e-5)


def test_gp_interpolates_between_real_and_fake():
    # D = 0.5 ||x||^2 has gradient x_hat itself; replay the same alphas from the seed
    D = Quadratic(torch.full((3,), 0.5))
    real, fake = torch.randn(6, 3), torch.randn(6, 3)
    gp = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
    alpha = torch.rand(6, 1, generator=torch.Generator().manual_seed(7))
    x_hat = alpha * real + (1 - alpha) * fake
    expected = ((x_hat.norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)


def test_r1_linear():
    w = torch.tensor([1.0, -2.0, 2.0])  # ||w||^2 = 9
    D = Linear(w)
    real = torch.randn(4, 3).requires_grad_(True)
    assert r1_penalty(D(real), real).item() == pytest.approx(9.0, rel=1e-6)


def test_r1_quadratic_and_backprop():
    a = torch.tensor([[1.0, 0.5], [2.0, -1.0]])
    D = Quadratic(a)
    real = torch.tensor([[[1.0, 2.0], [0.0, 1.0]], [[-1.0, 0.0], [3.0, 1.0]]]).requires_grad_(True)
    r1 = r1_penalty(D(real), real)
    # per sample ||2 a x||^2 = 4 sum a^2 x^2
    s0 = 4 * (1 * 1 + 0.25 * 4 + 4 * 0 + 1 * 1)
    s1 = 4 * (1 * 1 + 0.25 * 0 + 4 * 9 + 1 * 1)
    assert r1.item() == pytest.approx((s0 + s1) / 2, rel=1e-6)
    r1.backward()  # d/da of mean 4 a^2 x^2 = 8 a x^2 / N
    assert torch.allclose(D.a.grad, (8 * a * real.detach().pow(2)).mean(0), atol=1e-5)


def test_r1_requires_grad_on_real():
    D = Linear(torch.ones(3))
    real = torch.randn(2, 3)
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(D(real), real)


def test_mode_seeking_by_hand_over_same_label_pairs_only():
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [0.5, 0.5]])
    z = torch.tensor([[0.0], [2.0], [9.0], [1.0]])
    y = torch.tensor([0, 0, 1, 1])
    # pairs (0, 1) and (2, 3): mean |dG| = (1 + 4.5) / 2, mean |dz| = (2 + 8) / 2
    assert mode_seeking(fake, z, y).item() == pytest.approx(1 / (2.75 / 5 + 1e-5))
    # unconditional: every pair of the batch
    i, j = torch.triu_indices(4, 4, 1)
    ratio = (fake[i] - fake[j]).abs().mean() / (z[i] - z[j]).abs().mean()
    assert mode_seeking(fake, z).item() == pytest.approx(1 / (ratio.item() + 1e-5))
    assert mode_seeking(fake, z, torch.tensor([0, 1, 2, 3])).item() == 0.0  # no pair shares a label


def test_mode_seeking_is_large_when_g_ignores_z():
    torch.manual_seed(0)
    z = torch.randn(16, 8)
    y = torch.arange(16) % 4
    varied = torch.randn(16, 1, 4, 4)
    one_per_class = varied[y]  # four distinct images, one per label, whatever z is
    assert mode_seeking(one_per_class, z, y).item() > 1e4 > 10 > mode_seeking(varied, z, y).item()


def test_bounded_mode_seeking_by_hand_per_pair():
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [5.0, 5.0]])
    z = torch.tensor([[0.0], [2.0], [9.0], [1.0]])
    y = torch.tensor([0, 0, 1, 1])
    # pair (0, 1): r = 1 / 2; pair (2, 3): identical images, r = 0
    assert mode_seeking(fake, z, y, tau=1.0).item() == pytest.approx(((1 - 0.5) + 1.0) / 2)
    # a pair at or beyond tau adds nothing, however far apart: only pair (2, 3) counts
    assert mode_seeking(fake, z, y, tau=0.5).item() == pytest.approx((0.0 + 1.0) / 2)
    assert mode_seeking(fake, z, torch.tensor([0, 1, 2, 3]), tau=1.0).item() == 0.0


def test_bounded_mode_seeking_stops_pushing_pairs_past_tau():
    torch.manual_seed(0)
    z = torch.randn(16, 8)
    far = (torch.rand(16, 1, 4, 4) * 20).requires_grad_(True)  # every pair far beyond tau
    term = mode_seeking(far, z, tau=0.33)
    term.backward()
    # the unbounded form would still reward more distance; the bound gives no gradient at all
    assert term.item() == 0.0 and far.grad.abs().sum().item() == 0.0
    same = torch.zeros(16, 1, 4, 4, requires_grad=True)  # G ignores z: every pair identical
    assert mode_seeking(same, z, tau=0.33).item() == pytest.approx(1.0)


@pytest.mark.parametrize("tau", [0.0, 2.0])
def test_mode_seeking_gradient_is_the_same_every_time(tau):
    # a resumed run must match an uninterrupted one bit for bit (tests/test_train.py)
    torch.manual_seed(0)
    z, y, base = torch.randn(32, 100), torch.randint(0, 10, (32,)), torch.randn(32, 1, 28, 28)
    grads = []
    for _ in range(5):
        fake = base.clone().requires_grad_(True)
        mode_seeking(fake, z, y, tau).backward()
        grads.append(fake.grad)
    assert grads[0].abs().sum() > 0 and all(torch.equal(grads[0], g) for g in grads[1:])
