"""`evaluate_samples`: every metric of generated images against real data, next to its floor.

The model's samples are compared with a fixed random subset (size n) of the training split;
the floor is the same comparison for real images the model never saw (the test split, or a
disjoint part of the training split when there is no test split), i.e. what a perfect
generator would score with this n.  Real features and floors are cached (see reference.py),
so after the first call only the generated images are embedded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from gankit.config import Config
from gankit.data import ImageData, load_dataset
from gankit.errors import GankitError, GankitWarning
from gankit.metrics.evaluator_folder import MIN_IMAGES, find_evaluator
from gankit.metrics.fidelity import classifier_score, fid, kid
from gankit.metrics.inception import InceptionEmbedder, inception_status
from gankit.metrics.manifold import nearest_distance, prdc
from gankit.metrics.reference import cached_embedding, cached_json, reference_key, subset_indices

# a class is "covered" when it gets at least this fraction of its share in the real data
COVER_FRACTION = 0.1
# classes with less than this fraction of a uniform share in the real data count as absent
# (the evaluator misclassifies a few images of a class-filtered dataset into absent classes)
PRESENT_FRACTION = 0.2
# below this many samples FID (biased upwards, more so the smaller n) and KID (noisy) are not
# comparable with figures computed at a larger n
MIN_COMPARABLE_N = 2048
# the k-nearest-neighbour metrics (precision/recall, density/coverage, nearest-training distances)
# read at most this many samples: their cost grows with n squared (and with n times the training
# set), and 10,000 is the n their papers report; FID, KID and class or mode counts use all n
KNN_MAX_N = 10_000
# what every metrics file records besides the metrics: how many samples, against which real
# images, in whose feature space (an `inception_`-prefixed sha256 too when Inception ran)
PROVENANCE_KEYS = ("n", "reference", "reference_split", "reference_size", "reference_n", "evaluator_sha256",
                   "inception_evaluator_sha256", "small_n_warning")


def small_n_message(n: int) -> str:
    return (f"FID/KID from n={n} samples (fewer than {MIN_COMPARABLE_N}) are biased and not comparable "
            f"with figures at a larger n; use n >= {MIN_COMPARABLE_N} for numbers to compare")


def split_of(name: str) -> str:
    """The split in an ImageData name ("fashion-mnist/train" -> "train"); "train" when it names none."""
    last = name.rsplit("/", 1)[-1]
    return last if "/" in name and last in ("train", "test") else "train"


def class_stats(fake_logits: Tensor, real_logits: Tensor) -> dict:
    """Histogram of the classifier's predictions on fake samples and how many classes they cover."""
    c = fake_logits.shape[1]
    hist = torch.bincount(fake_logits.argmax(1), minlength=c)
    real_frac = torch.bincount(real_logits.argmax(1), minlength=c).double() / max(1, real_logits.shape[0])
    fake_frac = hist.double() / max(1, fake_logits.shape[0])
    present = real_frac >= PRESENT_FRACTION / c
    covered = present & (fake_frac >= COVER_FRACTION * real_frac)
    return {"class_hist": [int(v) for v in hist], "classes_covered": int(covered.sum()),
            "classes_present": int(present.sum())}


@dataclass(frozen=True)
class Features:
    """What a feature metric sees: the samples' features and logits, the reference's features, each
    sample's distance to its nearest training image, and the evaluation's settings."""

    fake: Tensor
    fake_logits: Tensor
    real: Tensor
    nn_dist: Tensor
    kid_subsets: int
    seed: int


@dataclass(frozen=True)
class FeatureMetric:
    """One metric's registration: `compute(features) -> {key: value}` (its keys' names, directions and
    meanings are util/metric_names.py's METRICS); `classes`: it reads the logits as classes."""

    compute: Callable[[Features], dict[str, float]]
    classes: bool = False


def _kid(f: Features) -> dict[str, float]:
    mean, std = kid(f.fake, f.real, subsets=f.kid_subsets, seed=f.seed)
    return {"kid_mean": mean, "kid_std": std}


def _cs(f: Features) -> dict[str, float]:
    mean, std = classifier_score(f.fake_logits, seed=f.seed)
    return {"cs": mean, "cs_std": std}


# every metric computed in each feature space, in the order metrics.json lists them (docs/extending.md)
FEATURE_METRICS: dict[str, FeatureMetric] = {
    "fid": FeatureMetric(lambda f: {"fid": fid(f.fake, f.real)}),
    "kid": FeatureMetric(_kid),
    "cs": FeatureMetric(_cs, classes=True),
    "prdc": FeatureMetric(lambda f: prdc(f.fake[:KNN_MAX_N], f.real[:KNN_MAX_N])),
    "nn_dist": FeatureMetric(lambda f: {"nn_dist_mean": float(f.nn_dist.mean())}),
}
BUILTIN_METRICS = list(FEATURE_METRICS)


def feature_metrics(fake_f: Tensor, fake_logits: Tensor, real_f: Tensor, nn_ref: Tensor,
                    kid_subsets: int, seed: int, with_cs: bool = True) -> tuple[dict, Tensor]:
    """Every registered feature metric (FID, KID, classifier score when the logits are classes, PRDC,
    nearest-training distances), and the nearest-training distance of each of the first KNN_MAX_N
    samples."""
    f = Features(fake_f, fake_logits, real_f, nearest_distance(fake_f[:KNN_MAX_N], nn_ref), kid_subsets, seed)
    out: dict = {}
    for metric in FEATURE_METRICS.values():
        if with_cs or not metric.classes:
            out.update(metric.compute(f))
    return out, f.nn_dist


def metrics_tag() -> str:
    """'' for the built-in metrics (their cached floors stay valid); a tag of the registered names
    otherwise, so a floor cached before a metric was added is computed again with it."""
    names = list(FEATURE_METRICS)
    return "" if names == BUILTIN_METRICS else "-m" + hashlib.sha256(",".join(names).encode()).hexdigest()[:8]


def _embedders(dataset_key: str, real, with_inception: bool, evaluator=None,
               inception_weights=None) -> tuple[list, list[str]]:
    notes: list[str] = []
    ev = evaluator if evaluator is not None else find_evaluator(dataset_key, real)
    embedders = [("", ev)] if ev is not None else []
    if ev is None and len(real) < MIN_IMAGES:  # too few to make one: the advice must be one that works
        notes.append(f"no gankit evaluator for {real.name}: its {len(real)} images are too few to train one (at "
                     f"least {MIN_IMAGES}); compare against a larger reference with --against, or use Inception-v3")
    elif ev is None:
        notes.append(f"no gankit evaluator for {real.name} yet; `gankit evaluator train --set data.dataset=folder "
                     "--set data.path=PATH` makes one (a run with train.eval_every makes it itself)")
    if with_inception or ev is None:
        path, message = inception_status(inception_weights)
        notes.append(message)
        if path is not None:
            embedders.append(("inception_", InceptionEmbedder(path)))
    if not embedders:
        raise GankitError(f"cannot evaluate {real.name}: {notes[0]}; {notes[-1]}")
    return embedders, notes


def load_test_split(data_cfg, data_dir=None):
    """The test split with the run's own data options (classes, channels, size), or None.

    None when the dataset has no test split here (e.g. a plain image folder); the floor then
    uses a disjoint part of the training split.
    """
    import dataclasses

    if data_cfg.split == "test":
        return None  # trained on the test split: there is no unseen real split to compare with
    try:
        test = load_dataset(dataclasses.replace(data_cfg, split="test", limit=0), data_dir)
    except GankitError:
        return None
    # a folder without train/ and test/ sub-folders returns the same images for either split
    return test if test.name.endswith("/test") else None


def evaluate_samples(fake_u8: Tensor, dataset_key: str, real, *, n: int = 10000, device="cpu",
                     kid_subsets: int = 100, with_inception: bool = False, test=None, seed: int = 0,
                     reference_split: str | None = None, evaluator=None, inception_weights=None) -> dict:
    """All metrics of generated uint8 images [N,C,H,W] vs the training data `real` (ImageData).

    `test` (ImageData of the test split, same transforms as `real`) gives the real-vs-real floor;
    without it the floor uses a disjoint part of the training split.  Returns a flat dict: the
    model's metrics, the same keys prefixed `floor_`, `inception_`-prefixed ones when Inception
    ran, `class_hist`, `notes` (list of strings) and bookkeeping (seconds).

    Every result records where its numbers come from (PROVENANCE_KEYS): `n` generated samples,
    the `reference` data (`real.name`), its `reference_split` (`reference_split`, else read from
    the name) and `reference_size` (images in it; the FID/KID/PRDC reference is a fixed subset of
    `reference_n` = min(n, reference_size) of them), and `evaluator_sha256` (the weights file's
    sha256).  `evaluator`: the feature network to use (default: the shipped one for the dataset,
    else the one made for this data, evaluator_folder.py).  Below MIN_COMPARABLE_N samples it warns once (GankitWarning) and sets
    `small_n_warning`.
    """
    t0 = time.time()
    fake_u8 = fake_u8[:n]
    if fake_u8.dtype != torch.uint8 or fake_u8.dim() != 4:
        raise GankitError(f"evaluate_samples: expected uint8 images [N,C,H,W], "
                          f"got {fake_u8.dtype} {tuple(fake_u8.shape)}")
    n_fake = int(fake_u8.shape[0])
    if n_fake < 10:
        raise GankitError(f"evaluate_samples: {n_fake} samples are too few for any metric; use n >= 100")
    embedders, notes = _embedders(dataset_key, real, with_inception, evaluator, inception_weights)
    if test is not None and test.name == real.name:
        test = None  # the same images twice would make a meaningless floor
    small_n = n_fake < MIN_COMPARABLE_N
    # without a test split the floor needs real images the reference does not use: on small data
    # (fewer than 2n images) the reference and the floor each get half of them
    n_ref = min(n_fake, len(real)) if test is not None else min(n_fake, len(real) - min(n_fake, len(real) // 2))
    out: dict = {"n": n_fake, "reference": real.name, "reference_split": reference_split or split_of(real.name),
                 "reference_size": len(real), "reference_n": n_ref, "knn_n": min(n_fake, KNN_MAX_N),
                 "small_n_warning": small_n,
                 "floor_kind": "train subset vs test split" if test is not None
                 else "train subset vs a disjoint train subset (no test split given)"}
    if small_n:  # once per evaluation, whatever the number of feature spaces
        warnings.warn(small_n_message(n_fake), GankitWarning, stacklevel=2)
    for prefix, emb in embedders:
        out[prefix + "evaluator"] = f"{emb.key} ({emb.sha256[:12]})"
        out[prefix + "evaluator_sha256"] = emb.sha256  # of the weights file that computed the features
        train_key = reference_key(real.name, "ref", emb.sha256, real.images)
        train_f, train_lo = cached_embedding(train_key, real.images, lambda x: emb.embed(x, device=device))
        perm = subset_indices(train_f.shape[0], train_f.shape[0], seed)
        ref_idx = perm[:n_ref]
        if test is not None:
            test_key = reference_key(test.name, "test", emb.sha256, test.images)
            test_f, test_lo = cached_embedding(test_key, test.images, lambda x: emb.embed(x, device=device))
            floor_idx = subset_indices(test_f.shape[0], n_fake, seed + 1)
            floor_f, floor_lo, floor_nn_ref = test_f[floor_idx], test_lo[floor_idx], train_f
        else:
            floor_idx = perm[n_ref : n_ref + n_fake]
            keep = torch.ones(train_f.shape[0], dtype=torch.bool)
            keep[floor_idx] = False  # a training image is trivially its own nearest neighbour
            floor_f, floor_lo, floor_nn_ref = train_f[floor_idx], train_lo[floor_idx], train_f[keep]
        real_f = train_f[ref_idx]
        # a self-supervised evaluator has no classes: no classifier score, no class coverage
        classes = prefix == "" and bool(getattr(emb, "class_names", None))
        with_cs = prefix != "" or classes  # Inception's is the Inception Score

        def floor() -> dict:
            m, nn_dist = feature_metrics(floor_f, floor_lo, real_f, floor_nn_ref, kid_subsets, seed, with_cs)
            m["nn_dist_p01"] = float(torch.quantile(nn_dist, 0.01))
            if classes:
                m.update(class_stats(floor_lo, train_lo))
            return m

        floor_key = (f"floor-{train_key}-{test_key if test is not None else 'self'}-n{n_fake}-r{n_ref}"
                     f"-k{kid_subsets}-s{seed}{metrics_tag()}" + (f"-knn{KNN_MAX_N}" if n_fake > KNN_MAX_N else ""))
        floor_m = cached_json(floor_key, floor) if floor_f.shape[0] >= 10 else {}
        fake_f, fake_lo = emb.embed(fake_u8, device=device)
        model_m, nn_dist = feature_metrics(fake_f, fake_lo, real_f, train_f, kid_subsets, seed, with_cs)
        if classes:
            model_m.update(class_stats(fake_lo, train_lo))
        if "nn_dist_p01" in floor_m:
            # share of samples closer to a training image than 99% of unseen real images are
            model_m["memorised_frac"] = float((nn_dist < floor_m["nn_dist_p01"]).double().mean())
            floor_m["memorised_frac"] = 0.01
        if floor_f.shape[0] < n_fake:
            notes.append(f"floor uses {floor_f.shape[0]} real images (fewer than n={n_fake}), "
                         "so it is biased upwards for FID")
        for k, v in model_m.items():
            out[prefix + k] = v
        for k, v in floor_m.items():
            if k != "nn_dist_p01":
                out["floor_" + prefix + k] = v
    out["notes"] = notes
    out["seconds"] = round(time.time() - t0, 2)
    return out


def reference_data(cfg: Config, data_dir: str | None) -> ImageData:
    """The real distribution a run is judged against: its training split, all of it.

    `data.limit` only shortens training; the reference stays the dataset (with the run's
    class filter, channels and resolution), so numbers are comparable across budgets.
    """
    return load_dataset(dataclasses.replace(cfg.data, limit=0), data_dir)
