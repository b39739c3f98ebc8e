"""Classification Accuracy Score (Ravuri & Vinyals 2019): is a conditional GAN's data useful?

Train a classifier on N generated labelled images, measure its accuracy on the real test
split, and compare with the same classifier trained on N real training images: a generator
whose images carry their class as well as real ones do scores the same; one that draws
typical but not diverse images, or images of the wrong class, scores lower, even where its FID
looks good.  The augmentation gain is the accuracy of real N + synthetic N minus that of real N.

Every classifier here is the evaluator network (EvalNet) trained with the evaluator's
deterministic recipe (`evaluator_train.fit_classifier`, one CPU thread, torch's deterministic
mode): same architecture, epochs and seed for all three, only the training images differ.
The real and real+synthetic classifiers see the same real images, chosen per class with the
synthetic set's counts.  With the same epoch count the real+synthetic classifier takes twice
as many steps; that is part of what augmentation buys.  Few epochs (DEFAULT_EPOCHS) keep
N=10,000 at about a minute a classifier on a small CPU: the numbers compare runs with each
other and with real data at the same setting, not with published CAS figures.
"""

from __future__ import annotations

import hashlib
import time

import torch
from torch import Tensor

from gankit.metrics.evaluator import evaluator_key
from gankit.metrics.evaluator_train import RECIPES, accuracy, deterministic_cpu, fit_classifier
from gankit.metrics.reference import cached_json, content_hash

DEFAULT_EPOCHS = 2


def classifier_recipe(dataset_key: str, class_names: list[str], size: int) -> dict:
    """widths / flips / shifts of the evaluator recipe for this data, or a plain one without recipe."""
    key = evaluator_key(dataset_key, class_names)
    if key in RECIPES:
        r = RECIPES[key]
        return {"widths": list(r.widths), "hflip": r.hflip, "shift": r.shift, "recipe": key}
    # no recipe (a folder of the user's images): no flips or shifts, which could change a class's meaning
    return {"widths": [32, 64] if size <= 32 else [32, 64, 128], "hflip": False, "shift": 0, "recipe": None}


def train_and_test(x: Tensor, y: Tensor, test_x: Tensor, test_y: Tensor, n_classes: int, recipe: dict,
                   epochs: int, seed: int) -> float:
    """Real-test-split accuracy of the recipe's classifier trained on uint8 images x with labels y."""
    with deterministic_cpu():
        net = fit_classifier(x, y.long(), n_classes, recipe["widths"], recipe["hflip"], recipe["shift"],
                             epochs, seed)
        return accuracy(net, test_x, test_y.long())


def balanced_real(images: Tensor, labels: Tensor, counts: dict[int, int], seed: int) -> tuple[Tensor, Tensor]:
    """counts[c] real images of each class c, a seeded random choice within the class.
    Raises ValueError naming the class when it has fewer images than asked."""
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for c, k in counts.items():
        pool = torch.nonzero(labels == c).flatten()
        if len(pool) < k:
            raise ValueError(f"class {c} has {len(pool)} real training images, fewer than the {k} asked")
        picked.append(pool[torch.randperm(len(pool), generator=gen)[:k]])
    idx = torch.cat(picked)
    return images[idx], labels[idx]


def classification_accuracy_score(fake_x: Tensor, fake_y: Tensor, real_x: Tensor, real_y: Tensor,
                                  test_x: Tensor, test_y: Tensor, n_classes: int, recipe: dict,
                                  epochs: int = DEFAULT_EPOCHS, seed: int = 0, log=None) -> dict:
    """Accuracies on the test split of classifiers trained on synthetic, real, and real+synthetic data.

    fake_x/real_x: uint8 [N, C, H, W] of the same N and class counts; the real-only accuracy is
    cached (reference cache) by the content of its training and test images and the settings, so
    comparing several runs of one dataset trains it once.
    """
    t0 = time.time()
    say = log or (lambda msg: None)

    def fit(x: Tensor, y: Tensor, what: str) -> float:
        say(f"CAS: training a classifier on {what} ({x.shape[0]} images, {epochs} epochs)")
        return train_and_test(x, y, test_x, test_y, n_classes, recipe, epochs, seed)

    synthetic = fit(fake_x, fake_y, "synthetic images")
    labels = hashlib.sha256(real_y.long().numpy().tobytes()).hexdigest()[:12]
    widths = "x".join(str(w) for w in recipe["widths"])
    key = (f"cas-real-{content_hash(real_x)[:12]}-{labels}-{content_hash(test_x)[:12]}-w{widths}"
           f"-f{int(recipe['hflip'])}-t{recipe['shift']}-e{epochs}-s{seed}-torch{torch.__version__}")
    real = cached_json(key, lambda: {"accuracy": fit(real_x, real_y, "real images")})["accuracy"]
    both = fit(torch.cat([real_x, fake_x]), torch.cat([real_y, fake_y]), "real + synthetic images")
    return {
        "n": int(fake_x.shape[0]),
        "epochs": int(epochs),
        "seed": int(seed),
        "test_n": int(test_x.shape[0]),
        "classifier": f"EvalNet widths {recipe['widths']}"
                      + (f" ({recipe['recipe']} recipe)" if recipe["recipe"] else ""),
        "accuracy": {"synthetic": synthetic, "real": real, "real+synthetic": both},
        # CAS relative to real data: 1 means the synthetic set teaches the classifier as well as real images
        "ratio": synthetic / real if real > 0 else None,
        "gain": both - real,
        "seconds": round(time.time() - t0, 1),
    }
