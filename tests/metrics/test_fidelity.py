"""FID, KID and the classifier score against closed forms and hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.metrics.fidelity import classifier_score, fid, frechet_distance, kid, mean_cov


def whitened(n: int, d: int, seed: int) -> torch.Tensor:
    """n samples whose sample mean is exactly 0 and sample covariance exactly I (float64)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    z = z - z.mean(0)
    chol = torch.linalg.cholesky(torch.cov(z.T))
    return torch.linalg.solve_triangular(chol, z.T, upper=False).T


def test_fid_of_a_set_with_itself_is_zero():
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_two_gaussians_matches_closed_form():
    # sample stats are exactly N(mu1, diag s1) and N(mu2, diag s2); for diagonal covariances
    # FID = |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    w = whitened(400, 4, seed=1)
    mu1, s1 = torch.tensor([0.0, 1.0, -2.0, 0.5]), torch.tensor([1.0, 4.0, 0.25, 9.0])
    mu2, s2 = torch.tensor([1.0, 1.0, 0.0, 0.5]), torch.tensor([4.0, 1.0, 1.0, 1.0])
    a, b = w * s1.sqrt() + mu1, w * s2.sqrt() + mu2
    expected = float((mu1 - mu2).square().sum() + (s1.sqrt() - s2.sqrt()).square().sum())
    # = 5 + (1 + 1 + 0.25 + 4) = 11.25
    assert expected == pytest.approx(11.25)
    assert fid(a.float(), b.float()) == pytest.approx(expected, rel=1e-4)


def test_fid_with_correlated_covariance_matches_singular_values():
    # X has covariance I, Y = X A has A^T A: FID = sum (1 - sigma_i(A))^2 (+ 0 mean shift)
    w = whitened(300, 3, seed=2)
    a = torch.tensor([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.4, 0.0, 0.5]], dtype=torch.float64)
    sv = torch.linalg.svdvals(a)
    expected = float((1 - sv).square().sum())
    assert fid(w.float(), (w @ a).float()) == pytest.approx(expected, rel=1e-4)
    assert frechet_distance(*mean_cov(w), *mean_cov(w @ a)) == pytest.approx(expected, rel=1e-9)


def test_torchmetrics_fid_agrees_with_independent_eigh_implementation():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(800, 8, generator=g) @ torch.randn(8, 8, generator=g)
    y = torch.randn(600, 8, generator=g) @ torch.randn(8, 8, generator=g) + 0.3
    assert fid(x, y) == pytest.approx(frechet_distance(*mean_cov(x), *mean_cov(y)), rel=1e-5)


def test_kid_of_two_samples_of_one_distribution_is_zero_within_its_std():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(1000, 8, generator=g), torch.randn(1000, 8, generator=g)
    mean, std = kid(x, y, subsets=20, subset_size=300)
    assert abs(mean) < std
    shifted_mean, shifted_std = kid(x, y + 1.0, subsets=20, subset_size=300)
    assert shifted_mean > 10 * shifted_std > 0


def test_kid_is_the_unbiased_polynomial_mmd():
    # k(a, b) = (a.b / d + 1)^3 with d=1; x = [0, 1], y = [2, 3]:
    # k_xx offdiag: k(0,1) = 1        -> mean 1
    # k_yy offdiag: k(2,3) = 7^3=343  -> mean 343
    # k_xy: k(0,2)=1, k(0,3)=1, k(1,2)=27, k(1,3)=64 -> mean 93/4
    # MMD^2 = 1 + 343 - 2 * 23.25 = 297.5
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[2.0], [3.0]])
    mean, std = kid(x, y, subsets=3, subset_size=2)
    assert mean == pytest.approx(297.5)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_classifier_score_closed_forms():
    # confident and balanced over C classes -> C; all one class -> 1
    eye = torch.eye(10) * 60
    assert classifier_score(eye.repeat(20, 1), splits=1)[0] == pytest.approx(10.0, rel=1e-4)
    assert classifier_score(eye[[3] * 200], splits=1)[0] == pytest.approx(1.0, rel=1e-4)
    # two classes, p(y|x) = (0.9, 0.1) for half and (0.1, 0.9) for the other half:
    # KL to the marginal (0.5, 0.5) = 0.9 ln 1.8 + 0.1 ln 0.2
    p = torch.tensor([[0.9, 0.1], [0.1, 0.9]]).log().repeat(50, 1)
    expected = math.exp(0.9 * math.log(1.8) + 0.1 * math.log(0.2))
    assert classifier_score(p, splits=1)[0] == pytest.approx(expected, rel=1e-6)
