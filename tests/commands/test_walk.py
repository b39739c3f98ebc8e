"""walks.py: slerp as a pure function (exact endpoints, norms kept, the angle split evenly) and the
closed keyframe path of a latent walk."""

import math

import pytest
import torch

from gankit.commands.walk import slerp, walk_latents
from gankit.errors import GankitError


def angle(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return math.acos(float((a @ b / (a.norm() * b.norm())).clamp(-1, 1)))


def unit(*shape: int, seed: int = 0) -> torch.Tensor:
    v = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    return v / v.norm(dim=-1, keepdim=True)


def test_endpoints_are_exact():
    a, b = torch.randn(5, 64), torch.randn(5, 64)
    assert torch.equal(slerp(a, b, 0.0), a)
    assert torch.equal(slerp(a, b, 1.0), b)
    t = torch.tensor([0.0, 0.25, 1.0]).view(3, 1, 1)
    out = slerp(a, b, t)
    assert torch.equal(out[0], a) and torch.equal(out[2], b)


def test_unit_vectors_stay_on_the_unit_sphere():
    a, b = unit(64, seed=1), unit(64, seed=2)
    path = slerp(a, b, torch.linspace(0, 1, 21))
    assert path.shape == (21, 64)
    assert torch.allclose(path.norm(dim=-1), torch.ones(21), atol=1e-5)
    lerp = torch.lerp(a, b, 0.5)
    assert lerp.norm() < 0.9  # what slerp avoids: a straight line cuts inside the sphere


def test_midpoint_halves_the_angle_and_steps_are_even():
    a, b = unit(32, seed=3), unit(32, seed=4)
    omega = angle(a, b)
    mid = slerp(a, b, 0.5)
    assert angle(a, mid) == pytest.approx(omega / 2, abs=1e-5)
    assert angle(mid, b) == pytest.approx(omega / 2, abs=1e-5)
    q = slerp(a, b, 0.25)
    assert angle(a, q) == pytest.approx(omega / 4, abs=1e-5)  # constant angular speed


def test_parallel_inputs_fall_back_to_a_straight_line():
    a = unit(16, seed=5)
    out = slerp(a, 3 * a, 0.5)
    assert torch.isfinite(out).all() and torch.allclose(out, 2 * a, atol=1e-5)


def test_walk_visits_every_keyframe_and_closes_the_loop():
    keys = torch.randn(4, 8)
    path = walk_latents(keys, 3)
    assert path.shape == (12, 8)
    for i in range(4):
        assert torch.equal(path[3 * i], keys[i])  # each leg starts on its keyframe
    # the last frame leads back toward keys[0]: it lies between keys[3] and keys[0]
    assert angle(path[-1], keys[0]) < angle(keys[3], keys[0])
    with pytest.raises(GankitError, match="--interpolate 0"):
        walk_latents(keys, 0)
