"""Distribution distances on precomputed features: FID, KID and the classifier score.

The math is torchmetrics' (FrechetInceptionDistance, KernelInceptionDistance, InceptionScore),
which accept any nn.Module as the feature extractor.  We hand them an identity module and feed
features we already computed, so one embedding pass (and the cached real-data features) serves
every metric.  torchmetrics computes FID in float64 with eigvals(S1 S2), so no scipy is needed;
`frechet_distance` is an independent eigh-based implementation the tests compare against.

KID and the classifier score draw random subsets with torch's global RNG: they run inside a
forked RNG with a fixed seed, so a report is reproducible and training's RNG is untouched.  Rank 0 alone evaluates a distributed run, so the metrics never
synchronise over the process group (`sync_on_compute=False`).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance


class GivenFeatures(nn.Module):
    """Identity 'feature extractor': torchmetrics receives features computed elsewhere."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x: Tensor) -> Tensor:
        return x


def fid(fake: Tensor, real: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N,D] (torchmetrics)."""
    m = FrechetInceptionDistance(feature=GivenFeatures(fake.shape[1]), sync_on_compute=False)
    m.update(real.double(), real=True)
    m.update(fake.double(), real=False)
    # tiny negative values are eigenvalue round-off of identical sets
    return max(0.0, float(m.compute()))


def kid(fake: Tensor, real: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Unbiased KID (cubic polynomial kernel MMD^2): mean and std over random subsets."""
    size = min(subset_size, fake.shape[0], real.shape[0])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        m = KernelInceptionDistance(feature=GivenFeatures(fake.shape[1]), subsets=subsets, subset_size=size,
                                    sync_on_compute=False)
    # float32: 100 subsets x 3 kernel matrices is the bulk of an evaluation, and the subset
    # spread (kid_std) dwarfs float32 round-off
    m.update(real.float(), real=True)
    m.update(fake.float(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = m.compute()
    return float(mean), float(std)


def classifier_score(logits: Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """The Inception Score formula exp(E KL(p(y|x) || p(y))) on a domain classifier's logits."""
    splits = max(1, min(splits, logits.shape[0]))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        m = InceptionScore(feature=GivenFeatures(logits.shape[1]), splits=splits, sync_on_compute=False)
    m.update(logits.double())
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*degrees of freedom.*")  # std of a single split
        torch.manual_seed(seed)
        mean, std = m.compute()
    return float(mean), (float(std) if splits > 1 else 0.0)


def sqrtm_psd(a: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    vals, vecs = torch.linalg.eigh(a.double())
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(mu1: Tensor, s1: Tensor, mu2: Tensor, s2: Tensor) -> float:
    """||mu1-mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), all in float64.

    tr sqrt(S1 S2) equals tr sqrt(S1^1/2 S2 S1^1/2), and the latter is symmetric PSD, so eigh
    applies (stable, unlike a general matrix square root).
    """
    mu1, mu2, s1, s2 = mu1.double(), mu2.double(), s1.double(), s2.double()
    r = sqrtm_psd(s1)
    inner = torch.linalg.eigvalsh(r @ s2 @ r).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * inner)


def mean_cov(x: Tensor) -> tuple[Tensor, Tensor]:
    """Sample mean and unbiased covariance of [N,D] features, float64."""
    x = x.double()
    return x.mean(0), torch.cov(x.T)
