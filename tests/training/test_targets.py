"""Label-trick targets have the documented distribution; instance noise anneals linearly."""

import pytest
import torch

from gankit.training.targets import d_targets

N = 100_000


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_plain_and_smoothed():
    r, f = d_targets(8)
    assert r.dtype == torch.float32 and f.dtype == torch.float32
    assert torch.equal(r, torch.ones(8)) and torch.equal(f, torch.zeros(8))
    r, f = d_targets(8, real_label=0.9)
    assert torch.allclose(r, torch.full((8,), 0.9)) and torch.equal(f, torch.zeros(8))


def test_noise_is_uniform_below_real_and_above_zero():
    r, f = d_targets(N, real_label=0.9, label_noise=0.2, generator=gen())
    # real ~ 0.9 - U(0, 0.2): mean 0.8, range [0.7, 0.9], std 0.2/sqrt(12)
    assert r.mean().item() == pytest.approx(0.8, abs=2e-3)
    assert r.min().item() >= 0.7 - 1e-6 and r.min().item() < 0.701
    assert r.max().item() <= 0.9 + 1e-6 and r.max().item() > 0.899
    assert r.std().item() == pytest.approx(0.2 / 12**0.5, rel=0.02)
    # fake ~ U(0, 0.2)
    assert f.mean().item() == pytest.approx(0.1, abs=2e-3)
    assert f.min().item() >= 0.0 and f.min().item() < 0.001
    assert f.max().item() <= 0.2 + 1e-6 and f.max().item() > 0.199
    # real and fake jitter are independent draws
    assert abs(torch.corrcoef(torch.stack([r, f]))[0, 1].item()) < 0.02


def test_noise_is_clipped_to_unit_interval():
    r, _ = d_targets(N, real_label=0.3, label_noise=0.45, generator=gen())
    assert r.min().item() == 0.0
    assert (r == 0).float().mean().item() == pytest.approx(0.15 / 0.45, abs=0.01)


def test_flip_fraction_and_swap_of_pairs():
    r, f = d_targets(N, label_flip=0.1, generator=gen(1))
    flipped = r == 0
    assert flipped.float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert torch.equal(f[flipped], torch.ones(int(flipped.sum())))
    assert torch.equal(f[~flipped], torch.zeros(int((~flipped).sum())))


def test_swap_convention():
    r, f = d_targets(4, swap=True)
    assert torch.equal(r, torch.zeros(4)) and torch.equal(f, torch.ones(4))
    r, f = d_targets(N, real_label=0.9, label_noise=0.1, swap=True, generator=gen())
    # mirror of real ~ [0.8, 0.9] and fake ~ [0, 0.1]
    assert r.min().item() >= 0.1 - 1e-6 and r.max().item() <= 0.2 + 1e-6
    assert f.min().item() >= 0.9 - 1e-6 and f.max().item() <= 1.0
    assert r.mean().item() == pytest.approx(0.15, abs=2e-3)


def test_seeded_generator_is_reproducible_and_device():
    a = d_targets(16, 0.9, 0.2, 0.2, generator=gen(3), device="cpu")
    b = d_targets(16, 0.9, 0.2, 0.2, generator=gen(3), device=torch.device("cpu"))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].device.type == "cpu"
