"""Mode coverage on StackedMNIST: how many of its 1,000 modes a set of images covers, and the
KL divergence of their mode histogram from the uniform one the data has.

Each channel is read by the shipped MNIST classifier (its card: 98.9 % on 2,000 held-out
digits), a sample's mode is the three digits (R, G, B) as a number 0-999, a mode is covered by
at least one sample, and KL(samples || uniform) = sum_m p(m) log(p(m) * 1000).  The real images'
own figures at the same n are the floor printed beside them: with SAMPLES samples even a
perfect generator leaves a few modes empty by chance and scores a KL above 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import GankitError

MODES = 1000
SAMPLES = 26_000  # samples whose modes are counted (the count the mode-collapse papers report at)


def mnist_classifier():
    from gankit.metrics.evaluator import evaluator_for

    clf = evaluator_for("mnist", [str(d) for d in range(10)])
    if clf is None:
        raise GankitError("mode coverage reads each channel with the shipped MNIST classifier, which is missing; "
                          "reinstall gankit or run `gankit evaluator train mnist`")
    return clf


def modes_of(images: Tensor, classifier=None, device: str = "cpu") -> Tensor:
    """The mode (0-999) of each uint8 image [N, 3, 28, 28]: its channels' digits as R*100 + G*10 + B."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise GankitError(f"mode coverage needs uint8 RGB images [N, 3, H, W] (StackedMNIST), got {images.dtype} "
                          f"{list(images.shape)}")
    clf = classifier if classifier is not None else mnist_classifier()
    digits = [clf.embed(images[:, c:c + 1].contiguous(), device=device)[1].argmax(1) for c in range(3)]
    return digits[0] * 100 + digits[1] * 10 + digits[2]  # = the argmax of StackedMnistEvaluator's logits


class StackedMnistEvaluator:
    """StackedMNIST's evaluator: the shipped MNIST classifier on each channel.  Its features are the
    three channels' features side by side (FID, precision/recall, ... in that space), its logits the
    1,000 modes' log-probabilities (log p_R(d1) + log p_G(d2) + log p_B(d3)), so the classifier score
    and class coverage of `evaluate_samples` count modes."""

    def __init__(self, classifier=None):
        self.clf = classifier if classifier is not None else mnist_classifier()
        self.key = f"stacked-{self.clf.key}"
        self.sha256 = self.clf.sha256  # the weights that compute every feature
        self.class_names = [f"{m:03d}" for m in range(MODES)]
        self.num_features = 3 * self.clf.num_features

    def embed(self, u8: Tensor, batch: int = 1000, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
        if u8.dim() != 4 or u8.shape[1] != 3:
            raise GankitError(f"evaluator {self.key}: expected RGB images [N, 3, H, W], got {list(u8.shape)}")
        parts = [self.clf.embed(u8[:, c:c + 1].contiguous(), batch, device) for c in range(3)]
        lp = [torch.log_softmax(logits, 1) for _, logits in parts]  # [N, 10] each
        modes = (lp[0][:, :, None, None] + lp[1][:, None, :, None] + lp[2][:, None, None, :]).flatten(1)
        return torch.cat([f for f, _ in parts], 1), modes


def mode_metrics(modes: Tensor) -> dict[str, float]:
    """{'modes_covered': of 1000, 'modes_kl': KL(histogram || uniform)} of a vector of modes."""
    return histogram_metrics(torch.bincount(modes.long(), minlength=MODES))


def histogram_metrics(counts: Tensor) -> dict[str, float]:
    """`mode_metrics` of a histogram of the 1,000 modes (samples per mode)."""
    counts = counts.double()
    p = counts / counts.sum()
    nz = p[p > 0]
    kl = float((nz * torch.log(nz * MODES)).sum())
    return {"modes_covered": int((counts > 0).sum()), "modes_kl": max(0.0, kl)}


def stacked_mnist_modes(metrics: dict) -> dict[str, float]:
    """The samples' mode coverage and KL, and the real floor images' at the same n (`floor_` keys),
    from what `evaluate_samples` measured with StackedMnistEvaluator: its class histograms are the
    mode histograms (argmax of the modes' log-probabilities = each channel's digit), so no image is
    classified twice."""
    out = histogram_metrics(torch.tensor(metrics["class_hist"]))
    if "floor_class_hist" in metrics:
        out.update({f"floor_{k}": v for k, v in histogram_metrics(torch.tensor(metrics["floor_class_hist"])).items()})
    out["modes_n"] = int(sum(metrics["class_hist"]))
    return out


def kl_uniform_floor(n: int, trials: int = 20, seed: int = 0) -> float:
    """The expected KL of n draws from the uniform 1000 modes: the figure a perfect generator scores."""
    g = torch.Generator().manual_seed(seed)
    return sum(mode_metrics(torch.randint(0, MODES, (n,), generator=g))["modes_kl"] for _ in range(trials)) / trials


__all__ = ["MODES", "SAMPLES", "StackedMnistEvaluator", "histogram_metrics", "kl_uniform_floor", "mode_metrics",
           "modes_of", "stacked_mnist_modes"]
