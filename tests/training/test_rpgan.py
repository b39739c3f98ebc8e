"""R3GAN's objective: the relativistic pairing loss (rpgan), R2 beside R1, and the rules that keep
them meaningful; hand-computed values and what each switch changes."""

import math

import pytest
import torch
from torch import nn

from gankit.config import LossConfig
from gankit.errors import GankitError
from gankit.launch.presets import build_config
from gankit.training.losses import LOSSES, generator_loss
from gankit.training.objectives import Objective, d_objective, g_objective


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_rpgan_scores_each_real_against_its_fake_partner_by_hand():
    rp = LOSSES["rpgan"]
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    d_real, d_fake = rp.d_parts(real, fake)
    # D: softplus(-(r - f)) over the pairs (2 - 0, 0 - 1); reported as the real part, fake part 0
    assert d_real.item() == pytest.approx((softplus(-2.0) + softplus(1.0)) / 2) and d_fake.item() == 0.0
    # G mirrored: softplus(-(f - r)) = softplus(r - f)
    assert generator_loss(rp, fake, real_logits=real).item() == pytest.approx((softplus(2.0) + softplus(-1.0)) / 2)
    # only the difference counts: shifting every logit by the same amount changes nothing (unlike ns)
    assert rp.d_parts(real + 5, fake + 5)[0].item() == pytest.approx(d_real.item())
    ns = LOSSES["ns"]
    assert ns.d_parts(real + 5, fake + 5)[0].item() != pytest.approx(ns.d_parts(real, fake)[0].item())


class Linear(nn.Module):
    """D(x) = w . x: its input gradient is w everywhere, so R1 = R2 = ||w||^2 per sample."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, y=None):
        return (x.flatten(1) * self.w).sum(1)


@pytest.mark.parametrize("r1_every, step, applied", [(1, 0, 1.0), (2, 1, 0.0), (2, 2, 2.0)])
def test_r2_is_the_zero_centred_penalty_at_the_fakes_lazy_like_r1(r1_every, step, applied):
    w = torch.tensor([1.0, -2.0, 0.5, 0.0])
    D = Linear(w)
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    plain = d_objective(D, LOSSES["rpgan"], LossConfig(name="rpgan"), real, fake, None, 1.0, 0.0, step)
    with_r2 = d_objective(D, LOSSES["rpgan"], LossConfig(name="rpgan", r2_gamma=0.4, r1_every=r1_every), real, fake,
                          None, 1.0, 0.0, step)
    # gamma/2 * ||w||^2, weighted by r1_every on the steps it runs (StyleGAN2's lazy regularisation)
    expected = 0.5 * 0.4 * float(w.square().sum()) * applied
    assert (with_r2.total - plain.total).item() == pytest.approx(expected, rel=1e-5)
    both = d_objective(D, LOSSES["rpgan"], LossConfig(name="rpgan", r1_gamma=0.4, r2_gamma=0.4, r1_every=r1_every),
                       real, fake, None, 1.0, 0.0, step)
    assert (both.total - plain.total).item() == pytest.approx(2 * expected, rel=1e-5)  # R1 + R2: the same size here


def test_the_g_step_of_a_pairing_loss_asks_d_about_the_reals_and_gets_no_gradient_through_them():
    D = Linear(torch.tensor([1.0, 1.0, 1.0, 1.0]))
    fake = torch.randn(4, 1, 2, 2, requires_grad=True)
    real = torch.full((4, 1, 2, 2), 3.0, requires_grad=True)
    loss, fool = g_objective(D, LOSSES["rpgan"], fake, None, False, real=real)
    expected = torch.nn.functional.softplus(-(D(fake) - D(real))).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert fool == pytest.approx(float((D(fake) > D(real)).float().mean()))
    loss.backward()
    assert fake.grad is not None and real.grad is None and D.w.grad is None  # G's gradient only
    far = g_objective(D, LOSSES["rpgan"], fake, None, False, real=real + 10)[0]
    assert far.item() > loss.item()  # the same fakes, judged against better-looking reals: a larger G loss


def test_a_pairing_losss_accuracy_is_the_pairs_d_orders_rightly():
    obj = Objective(LossConfig(name="rpgan"), [], 10, Linear(torch.ones(4)), Linear(torch.ones(4)))
    from gankit.training.objectives import DResult

    d = DResult(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(0.0), torch.tensor([1.0, 0.0, 3.0, 2.0]),
                torch.tensor([0.0, 1.0, 1.0, 5.0]))
    assert obj.accuracy(d) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("sets, says", [
    (["loss.name=wgan-gp", "loss.r2_gamma=1"], "loss.r2_gamma penalises D's gradient at the fakes toward 0, which "
                                               "loss.name=wgan-gp's critic has no form for"),
    (["loss.r2_gamma=-1"], "loss.r2_gamma=-1.0; must be >= 0 (0 = off)"),
    (["loss.name=rpgan", "loss.clip_value=0.01"], "loss.name=rpgan scores pairs of a real and a fake with a softplus"),
    (["loss.name=rpgan", "loss.real_label=0.9"], "loss.name=rpgan has no real/fake targets, so label smoothing"),
    (["loss.name=rpgan", "loss.swap_labels=true"], "loss.name=rpgan has no real/fake targets"),
    (["loss.name=rpgan", "loss.g_topk=0.5"], "top-k G training (loss.g_topk) picks fakes alone"),
    (["loss.name=rpgan", "train.ada=true"], "which a pairing loss (loss.name=rpgan) leaves free"),
])
def test_combinations_without_meaning_are_refused_in_one_line(sets, says):
    with pytest.raises(GankitError, match="invalid config: ") as e:
        build_config(sets=sets)
    assert says in str(e.value) and "\n" not in str(e.value)
