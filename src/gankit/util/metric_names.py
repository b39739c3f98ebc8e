"""What each metric key means: its plain name, which way is better, one line of meaning, and
its anchor in docs/evaluation.md ("The metrics").

One vocabulary for the CLI table (metrics/table.py) and the report page (report/html.py); it
lives down here because the report must not import the metrics package (torch).
"""

from __future__ import annotations

from typing import NamedTuple

DOCS_PAGE = "docs/evaluation.md"


class Metric(NamedTuple):
    label: str  # the row's name in tables
    better: str  # "low", "high", "~1", "~floor", "~0.01" or "" (a spread, no direction)
    meaning: str  # one line, for readers without the docs open


# display order; Inception's rows reuse these with the key prefixed "inception_"
METRICS: dict[str, Metric] = {
    "fid": Metric("FID", "low", "Fréchet distance between Gaussians fitted to sample and real features"),
    "kid_mean": Metric("KID (mean)", "low",
                       "kernel distance of samples to real images; unbiased, 0 = indistinguishable"),
    "kid_std": Metric("KID (std over subsets)", "",
                      "spread of KID over random subsets: a KID within it of 0 is real-like"),
    "cs": Metric("classifier score", "high",
                 "Inception Score formula on the domain classifier: confident and varied classes"),
    "cs_std": Metric("classifier score (std over splits)", "", "spread of the classifier score over 10 splits of "
                                                              "the samples"),
    "precision": Metric("precision (k=3)", "high", "share of samples that look like some real image (quality)"),
    "recall": Metric("recall (k=3)", "high", "share of real images some sample looks like (variety)"),
    "density": Metric("density (k=5)", "~1",
                      "how crowded samples are around real images; above 1: piled on common ones"),
    "coverage": Metric("coverage (k=5)", "high", "share of real images with a sample in their neighbourhood"),
    "classes_covered": Metric("classes covered", "high", "classes the evaluator sees in the samples at >= 10 % of "
                                                         "their real share"),
    "nn_dist_mean": Metric("nearest-train distance", "~floor", "mean distance of a sample to its closest training "
                                                              "image; far below the floor = copying"),
    "modes_covered": Metric("modes covered (of 1,000)", "high", "StackedMNIST modes (three digits) with at least one "
                                                                "sample; the real images' at the same n beside it"),
    "modes_kl": Metric("mode KL from uniform", "low", "KL divergence of the samples' StackedMNIST mode histogram from "
                                                      "the data's uniform one"),
    "memorised_frac": Metric("closer than 99% of real", "~0.01", "share of samples nearer a training image than 99 % "
                                                                "of unseen real images are (memorisation)"),
}

BETTER_WORDS = {"low": "lower", "high": "higher", "~1": "near 1", "~floor": "near the floor", "~0.01": "about 0.01",
                "": ""}


def describe(key: str) -> tuple[Metric | None, str]:
    """(the Metric, its anchor) for a metrics.json key, Inception's prefixed ones included."""
    base = key.removeprefix("inception_")
    m = METRICS.get(base)
    if m is not None and key != base and base == "cs":
        m = m._replace(label="Inception score", meaning="exp(E KL(p(y|x) || p(y))) with Inception-v3's 1,000 classes")
    return m, f"metric-{base.replace('_', '-')}"
