"""models.layers.Dropout: nn.Dropout's maths (keep 1-p, scale 1/(1-p), identity in eval)."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.models.layers import Dropout


def test_dropout_keeps_one_minus_p_of_the_elements_scaled_and_is_the_identity_in_eval():
    torch.manual_seed(0)
    x = torch.ones(200_000, requires_grad=True)
    drop = Dropout(0.3).train()
    y = drop(x)
    kept = y != 0
    assert kept.float().mean().item() == pytest.approx(0.7, abs=0.005)
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)  # expectation preserved, like nn.Dropout
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient flows through the kept elements only, scaled
    assert torch.equal(drop.eval()(x), x)


def test_dropout_refuses_a_probability_of_one():
    with pytest.raises(GankitError, match="dropout probability"):
        Dropout(1.0)
