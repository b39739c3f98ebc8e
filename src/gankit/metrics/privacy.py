"""Privacy check: are generated images closer to the training images than unseen real images are?

For every generated image, the distance to its nearest training image; for every image of the
real test split (never trained on), the same distance.  A generator that learnt the
distribution sits at about the test images' distances; one that copies training images sits
far below them.

- **memorisation rate**: the share of generated images whose nearest-training distance is at or
  below the threshold tau = the 1st percentile of the test images' nearest-training distances
  (`THRESHOLD_QUANTILE`).  Real unseen data scores 0.01 by construction; a generator that
  returns training images verbatim scores 1; noise scores 0.  `<=` rather than `<`, so exact
  copies count even where tau is 0 (a dataset whose test split repeats training images).
- two spaces: **pixel** (Euclidean distance of the images as vectors of values in [0, 1]; what
  "a copy" means to a person) and, where gankit has an evaluator for the dataset, the
  evaluator's 128-d **feature** space (near-copies that differ by a shift or a little noise).

Distances are computed in row blocks with torch.cdist (float32, at most MAX_BLOCK entries at a
time, so 10,000 x 60,000 comparisons fit in a few tens of MB), then the chosen pair's
distance is recomputed exactly in float64 (the float32 expansion is inexact near 0).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.util.imageio import make_grid

THRESHOLD_QUANTILE = 0.01
QUANTILES = {"p01": 0.01, "p05": 0.05, "p50": 0.5}
MAX_BLOCK = 16_000_000  # distance-matrix entries per block (64 MB in float32)
THRESHOLD_DEFINITION = ("memorisation rate = share of generated images whose distance to their nearest training "
                        "image is <= tau, tau = the 1st percentile of the real test images' nearest-training "
                        "distances (real unseen data scores 0.01)")


def pixel_vectors(u8: Tensor) -> Tensor:
    """uint8 images [N, C, H, W] -> float32 [N, C*H*W] in [0, 1]."""
    return u8.reshape(u8.shape[0], -1).float() / 255.0


def nearest_neighbours(query: Tensor, ref: Tensor, max_block: int = MAX_BLOCK) -> tuple[Tensor, Tensor]:
    """(distance float64 [N], index int64 [N]) of each query row's nearest ref row, in row blocks."""
    mu = ref.double().mean(0)
    # centred on ref's mean: distances are translation invariant, and the float32 expansion in
    # cdist loses less when the vectors share a large common offset (features after ReLU)
    r, q = (ref.double() - mu).float(), (query.double() - mu).float()
    rows = max(1, min(4096, max_block // max(1, r.shape[0])))
    idx = torch.empty(q.shape[0], dtype=torch.long)
    for i in range(0, q.shape[0], rows):
        idx[i:i + rows] = torch.cdist(q[i:i + rows], r).argmin(1)
    dist = (query.double() - ref.double()[idx]).norm(dim=1)
    return dist, idx


def quantiles(d: Tensor) -> dict[str, float]:
    d = d.double()
    out = {"min": float(d.min())}
    out.update({k: float(torch.quantile(d, q)) for k, q in QUANTILES.items()})
    out["mean"] = float(d.mean())
    return out


def memorisation_rate(gen_dist: Tensor, test_dist: Tensor, q: float = THRESHOLD_QUANTILE) -> tuple[float, float]:
    """(rate, tau): share of gen_dist <= tau, tau = the q-quantile of test_dist."""
    tau = float(torch.quantile(test_dist.double(), q))
    return float((gen_dist.double() <= tau).double().mean()), tau


def space_report(gen_dist: Tensor, unseen: dict) -> dict:
    """One space's entry of the privacy result from generated distances and the test split's stats
    (`unseen` = `unseen_stats(test_dist)`; cached per dataset, so passed in)."""
    tau = unseen["tau"]
    return {"generated": quantiles(gen_dist), "test": {k: v for k, v in unseen.items() if k != "tau"},
            "threshold": tau, "memorisation_rate": float((gen_dist.double() <= tau).double().mean()),
            "exact_copies": int((gen_dist <= 1e-9).sum())}


def unseen_stats(test_dist: Tensor, q: float = THRESHOLD_QUANTILE) -> dict:
    return {**quantiles(test_dist), "tau": float(torch.quantile(test_dist.double(), q))}


def closest_pairs(gen_u8: Tensor, train_u8: Tensor, dist: Tensor, idx: Tensor, k: int = 8,
                  per_row: int = 4) -> tuple[Tensor, list[float]]:
    """The k generated images nearest to a training image, each beside that image: a uint8
    H x W x C grid of pairs (generated | nearest training image), and their distances."""
    order = dist.argsort()[:k]
    pairs = torch.cat([gen_u8[order], train_u8[idx[order]]], dim=-1)  # side by side along the width
    grid = make_grid(pairs, nrow=min(per_row, len(order)), padding=4, pad_value=255)
    return torch.from_numpy(grid), [float(dist[i]) for i in order]
