"""Precision/recall, density/coverage and nearest-neighbour distances on hand-checkable sets."""

from __future__ import annotations

import pytest
import torch

from gankit.metrics.manifold import kth_radius, mean_pairwise_distance, nearest_distance, prdc

# 1-D features, worked by hand in the test bodies
REAL = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
FAKE = torch.tensor([[0.5], [5.0], [30.0]])


def test_precision_recall_density_coverage_are_one_for_identical_sets():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    m = prdc(x, x)
    assert m["precision"] == 1.0 and m["recall"] == 1.0 and m["coverage"] == 1.0
    # each sample lies in its own ball and, on average, in about k others' -> density near 1
    assert 0.7 < m["density"] < 1.5


def test_disjoint_sets_score_zero():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(200, 4, generator=g), torch.randn(200, 4, generator=g) + 100
    m = prdc(a, b)
    assert m == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_kth_radius_excludes_the_point_itself():
    # neighbours of 0: 1 (d=1), 2 (d=2); of 10: 2 (d=8), 1 (d=9)
    assert kth_radius(REAL, 1).tolist() == [1.0, 1.0, 1.0, 8.0]
    assert kth_radius(REAL, 2).tolist() == [2.0, 1.0, 2.0, 9.0]


def test_prdc_hand_computed_k1_k2():
    # real k=1 radii [1, 1, 1, 8]; fake k=1 radii: 0.5->4.5, 5->4.5, 30->25
    # precision: 0.5 in ball(0, 1); 5 in ball(10, 8); 30 in none -> 2/3
    # recall: 0, 1, 2 within 4.5 of 0.5; 10 within 25 of 30 -> 1
    # density (k=2 radii [2, 1, 2, 9]): 0.5 is in balls of 0, 1, 2; 5 in ball of 10; 30 in none
    #   -> 4 / (2 * 3) = 2/3
    # coverage (k=2): nearest fakes 0.5 (d .5 <= 2), 0.5 (.5 <= 1), 0.5 (1.5 <= 2), 5 (5 <= 9) -> 1
    m = prdc(FAKE, REAL, k_pr=1, k_dc=2)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(1.0)
    assert m["density"] == pytest.approx(2 / 3)
    assert m["coverage"] == pytest.approx(1.0)


def test_density_coverage_hand_computed_k1():
    # k=1 radii [1, 1, 1, 8]: 0.5 in balls of 0 and 1, 5 in ball of 10 -> density 3 / 3 = 1
    # coverage: real 2's nearest fake is 0.5 at 1.5 > 1 -> 3/4
    m = prdc(FAKE, REAL, k_pr=1, k_dc=1)
    assert m["density"] == pytest.approx(1.0)
    assert m["coverage"] == pytest.approx(0.75)


def test_nearest_distance_and_pairwise_distance():
    # 0.5 -> 0 or 1; 5 -> 2; 30 -> 10
    assert nearest_distance(FAKE, REAL).tolist() == pytest.approx([0.5, 3.0, 20.0])
    # a 3-4-5 triangle: distances 3, 4, 5 -> mean 4
    tri = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert mean_pairwise_distance(tri) == pytest.approx(4.0)
    assert mean_pairwise_distance(tri[:1]) == 0.0


def test_chunked_distances_match_unchunked(monkeypatch):
    import gankit.metrics.manifold as mf

    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(97, 5, generator=g), torch.randn(53, 5, generator=g)
    full = prdc(a, b)
    monkeypatch.setattr(mf, "MAX_BLOCK", 7 * 53)  # forces 7-row blocks
    assert prdc(a, b) == full
    assert torch.allclose(nearest_distance(a, b), torch.cdist(a.double(), b.double()).min(1).values, atol=1e-9)


@pytest.mark.parametrize("block_rows", [None, 7])
def test_kth_radii_exclude_self_for_large_norm_features(monkeypatch, block_rows):
    # distinct points far from the origin: the float32 ||a||^2 - 2ab + ||b||^2 expansion gives
    # each point a nonzero self-distance and can rank another point closer than itself, so the
    # radii must exclude the point by index, not by assuming it ranks first
    import gankit.metrics.manifold as mf
    from gankit.metrics.manifold import kth_radii

    if block_rows is not None:
        monkeypatch.setattr(mf, "MAX_BLOCK", block_rows * 500)  # diagonal off block's column 0
    g = torch.Generator().manual_seed(0)
    x = (1e4 + 1e-2 * torch.randn(500, 64, generator=g)).float()
    xd = x.double()
    d = torch.cdist(xd, xd)
    d.fill_diagonal_(float("inf"))
    ref = d.topk(3, dim=1, largest=False).values  # k-th nearest other point, float64 brute force
    r1, r3 = kth_radii(x, (1, 3))
    assert (r1 > 0).all()
    assert torch.allclose(r1, ref[:, 0], rtol=1e-6, atol=0)
    assert torch.allclose(r3, ref[:, 2], rtol=1e-6, atol=0)


def test_nearest_distance_and_prdc_keep_precision_for_large_norm_features():
    # the same float32 expansion ranks fake-vs-real pairs: with a large common offset it must
    # still find each query's true nearest reference point
    g = torch.Generator().manual_seed(1)
    real = (1e4 + 1e-2 * torch.randn(300, 32, generator=g)).float()
    fake = (1e4 + 1e-2 * torch.randn(200, 32, generator=g)).float()
    brute = torch.cdist(fake.double(), real.double()).min(1).values
    assert torch.allclose(nearest_distance(fake, real), brute, rtol=1e-6, atol=0)
    same = prdc(real, real)  # a distribution against itself covers and is covered entirely
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
