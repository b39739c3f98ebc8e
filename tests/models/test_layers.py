"""Spectral norm, minibatch discrimination, minibatch std, activation and norm switches."""

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.layers import MinibatchDiscrimination, MinibatchStd, activation, maybe_sn, norm2d


def sigma_max(m: nn.Module) -> float:
    w = m.weight  # the normalised weight (parametrized)
    if isinstance(m, nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # torch normalises ConvTranspose along its output channels
    return torch.linalg.matrix_norm(w.flatten(1), ord=2).item()


@pytest.mark.parametrize(
    "layer, x",
    [
        (lambda: nn.Linear(20, 30), lambda: torch.randn(4, 20)),
        (lambda: nn.Conv2d(3, 8, 4, 2, 1), lambda: torch.randn(4, 3, 8, 8)),
        (lambda: nn.ConvTranspose2d(8, 4, 4, 2, 1), lambda: torch.randn(4, 8, 4, 4)),
    ],
)
def test_spectral_norm_unit_sigma(layer, x):
    torch.manual_seed(0)
    m = layer()
    raw = m.weight.detach().clone()
    sn = maybe_sn(m, True)
    sn.train()
    with torch.no_grad():
        for _ in range(30):  # each train-mode forward runs one power iteration
            sn(x())
    sn.eval()
    assert sigma_max(sn) == pytest.approx(1.0, abs=1e-3)
    # the raw weight had a different scale, so the normalisation did something
    wr = raw.transpose(0, 1) if isinstance(m, nn.ConvTranspose2d) else raw
    assert abs(torch.linalg.matrix_norm(wr.flatten(1), ord=2).item() - 1.0) > 0.05


def test_maybe_sn_off_is_identity():
    m = nn.Linear(3, 3)
    assert maybe_sn(m, False) is m
    assert not hasattr(m, "parametrizations")


def test_minibatch_discrimination_sees_collapse():
    torch.manual_seed(0)
    mbd = MinibatchDiscrimination(in_features=32, num_kernels=10, kernel_dim=5)
    same = torch.randn(1, 32).expand(8, 32).contiguous()
    diverse = torch.randn(8, 32) * 3
    out_same, out_div = mbd(same), mbd(diverse)
    assert out_same.shape == (8, 42) and out_div.shape == (8, 42)
    assert torch.equal(out_same[:, :32], same)  # input passed through
    # identical samples: every other sample is at distance 0 -> exp(0) summed over N-1
    assert torch.allclose(out_same[:, 32:], torch.full((8, 10), 7.0))
    assert out_div[:, 32:].max() < 1.0
    # gradients reach the projection tensor
    out_div[:, 32:].sum().backward()
    assert mbd.T.grad is not None and mbd.T.grad.abs().sum() > 0


def test_minibatch_discrimination_hand_computed():
    mbd = MinibatchDiscrimination(2, 1, 1)
    with torch.no_grad():
        mbd.T.copy_(torch.tensor([[1.0], [0.0]]))  # M = first feature
    x = torch.tensor([[0.0, 5.0], [1.0, 5.0], [3.0, 5.0]])
    o = mbd(x)[:, 2]
    e = torch.exp
    expected = torch.stack([e(torch.tensor(-1.0)) + e(torch.tensor(-3.0)),
                            e(torch.tensor(-1.0)) + e(torch.tensor(-2.0)),
                            e(torch.tensor(-3.0)) + e(torch.tensor(-2.0))])
    assert torch.allclose(o, expected)


def test_mbstd_zero_for_identical_positive_otherwise():
    mb = MinibatchStd()
    same = torch.randn(1, 3, 4, 4).expand(8, 3, 4, 4)
    out = mb(same)
    assert out.shape == (8, 4, 4, 4)
    assert torch.equal(out[:, :3], same)
    assert out[:, 3].abs().max() < 1e-3  # sqrt(1e-8) = 1e-4
    out = mb(torch.randn(8, 3, 4, 4))
    assert (out[:, 3] > 0.1).all()
    # group of 4 from 8 samples: strided groups {0,2,4,6} and {1,3,5,7}
    assert torch.equal(out[0, 3], out[2, 3]) and torch.equal(out[1, 3], out[7, 3])


def test_mbstd_hand_computed_flat_and_fallback():
    mb = MinibatchStd(group_size=4)
    x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 1.0], [2.0, 1.0]])
    # feature 0: values 0,0,2,2 -> biased std 1; feature 1: std 0 -> mean over features 0.5
    out = mb(x)
    assert out.shape == (4, 3)
    assert torch.allclose(out[:, 2], torch.full((4,), (1 + 1e-8) ** 0.5 / 2 + 1e-4 / 2), atol=1e-6)
    # 6 samples not divisible by 4: the whole batch is one group, one value for all
    y = torch.arange(6.0).view(6, 1)
    out = mb(y)
    assert torch.allclose(out[:, 1], torch.full((6,), torch.arange(6.0).std(unbiased=False).item()), atol=1e-4)


def test_activation_and_norm():
    assert isinstance(activation("relu", 0.2), nn.ReLU)
    lr = activation("leaky_relu", 0.1)
    assert isinstance(lr, nn.LeakyReLU) and lr.negative_slope == 0.1
    assert isinstance(activation("tanh", 0.2), nn.Tanh)
    assert isinstance(activation("sigmoid", 0.2), nn.Sigmoid)
    with pytest.raises(GankitError):
        activation("gelu", 0.2)
    bn = norm2d("batch", 7)
    assert isinstance(bn, nn.BatchNorm2d) and bn.num_features == 7
    assert isinstance(norm2d("none", 7), nn.Identity)
    with pytest.raises(GankitError):
        norm2d("layer", 7)
