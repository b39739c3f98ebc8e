"""k-nearest-neighbour metrics on features: precision/recall, density/coverage, memorisation.

- precision, recall (Kynkäänniemi et al. 2019, k=3): the fraction of fake samples inside the
  real manifold (union of balls reaching each real sample's k-th neighbour), and of real samples
  inside the fake manifold.
- density, coverage (Naeem et al. 2020, k=5): density counts how many real balls contain each
  fake sample (/k, so ~1 for matching distributions, unbounded above); coverage is the fraction
  of real samples whose ball contains at least one fake sample.
- nearest-training-image distance: how close each generated sample is to its nearest training
  image; far below the test images' own distance means copying.

No library we depend on implements these, so they are written here; distances are computed in
row chunks so 10k x 60k comparisons never hold the full matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor

MAX_BLOCK = 16_000_000  # entries per distance block (64 MB in float32)


def _rows(n_cols: int) -> int:
    return max(1, min(4096, MAX_BLOCK // max(1, n_cols)))


def _sqdist(a: Tensor, b: Tensor, b_sq: Tensor) -> Tensor:
    # ||a||^2 - 2ab + ||b||^2 via one float32 matmul (twice as fast as float64, and the blocks are
    # large); clamped because round-off can go slightly negative
    return (a.square().sum(1, keepdim=True) - 2 * a @ b.T + b_sq[None, :]).clamp_min_(0)


def _exact(a: Tensor, b: Tensor) -> Tensor:
    # the float32 expansion loses precision for near-identical rows: recompute chosen pairs directly
    return (a.double() - b.double()).norm(dim=1)


def _centred(ref: Tensor, *xs: Tensor) -> list[Tensor]:
    """float32 copies of ref and xs, all shifted by ref's mean.  Distances are translation
    invariant; the shift keeps the float32 expansion in _sqdist from losing the small
    differences between features that share a large common offset."""
    mu = ref.mean(0, dtype=torch.float64)
    return [(t.double() - mu).float() for t in (ref, *xs)]


def kth_radii(x: Tensor, ks: tuple[int, ...]) -> list[Tensor]:
    """For each k: distance from each row of x to its k-th nearest other row (itself excluded)."""
    n = x.shape[0]
    if n < 2:  # no other row: radius 0, as the point itself
        return [torch.zeros(n, dtype=torch.float64) for _ in ks]
    (xf,) = _centred(x)
    x_sq = xf.square().sum(1)
    kmax = min(max(ks), n - 1)
    out = [torch.empty(n, dtype=torch.float64) for _ in ks]
    step = _rows(n)
    for i in range(0, n, step):
        d = _sqdist(xf[i : i + step], xf, x_sq)
        # exclude each point by index: after round-off its self-distance need not be 0 or rank first
        rows = torch.arange(d.shape[0])
        d[rows, rows + i] = float("inf")
        idx = d.topk(kmax, dim=1, largest=False).indices
        for o, k in zip(out, ks):
            o[i : i + step] = _exact(x[i : i + step], x[idx[:, min(k, kmax) - 1]])
    return out


def kth_radius(x: Tensor, k: int) -> Tensor:
    return kth_radii(x, (k,))[0]


def nearest_distance(query: Tensor, ref: Tensor) -> Tensor:
    """Distance from each query row to its nearest ref row."""
    r, q = _centred(ref, query)
    r_sq = r.square().sum(1)
    out = torch.empty(q.shape[0], dtype=torch.float64)
    step = _rows(r.shape[0])
    for i in range(0, q.shape[0], step):
        j = _sqdist(q[i : i + step], r, r_sq).argmin(1)
        out[i : i + step] = _exact(query[i : i + step], ref[j])
    return out


def prdc(fake: Tensor, real: Tensor, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """Precision and recall (k_pr) and density and coverage (k_dc) of fake vs real features."""
    r_pr, r_dc = (v.float() for v in kth_radii(real, (k_pr, k_dc)))
    f_pr = kth_radius(fake, k_pr).float()
    r, f = _centred(real, fake)
    r_sq = r.square().sum(1)
    in_real = torch.zeros(f.shape[0], dtype=torch.bool)  # precision
    real_hit = torch.zeros(r.shape[0], dtype=torch.bool)  # recall: real inside some fake ball
    density_count = torch.zeros((), dtype=torch.int64)
    nearest_fake = torch.full((r.shape[0],), float("inf"))  # coverage
    step = _rows(r.shape[0])
    for i in range(0, f.shape[0], step):
        d = _sqdist(f[i : i + step], r, r_sq).sqrt_()  # [step, n_real]
        in_real[i : i + step] = (d <= r_pr[None, :]).any(1)
        real_hit |= (d <= f_pr[i : i + step, None]).any(0)
        density_count += (d <= r_dc[None, :]).sum()
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    return {
        "precision": float(in_real.double().mean()),
        "recall": float(real_hit.double().mean()),
        "density": float(density_count) / (k_dc * f.shape[0]),
        "coverage": float((nearest_fake <= r_dc).double().mean()),
    }


def mean_pairwise_distance(x: Tensor) -> float:
    """Mean Euclidean distance between distinct rows: a sample-diversity measure."""
    n = x.shape[0]
    if n < 2:
        return 0.0
    x = x.double()
    d = _sqdist(x, x, x.square().sum(1)).sqrt_()
    return float(d.sum() / (n * (n - 1)))
