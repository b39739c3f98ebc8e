"""An evaluator for any dataset: trained on the user's own images, kept in the cache by their fingerprint.

The shipped evaluators cover the built-in datasets.  Any other data (a folder, a zip, a class
subset or a resolution nobody shipped) gets one made for it, once:

- labelled data (two or more classes): a classifier on its classes, by the shipped recipe
  (`evaluator_train.fit_classifier`), accuracy on a held-out part;
- unlabelled data (a flat folder), or `method="ssl"`: a self-supervised SimCLR net
  (`evaluator_ssl.fit_ssl`), its held-out contrastive loss and pair accuracy on the card.

Images above MAX_SIZE px are measured at MAX_SIZE (antialiased downscale) so the evaluator
trains in minutes on a CPU; the card says so.  The key is `<method>-<hash>` of the data's
fingerprint (a sha256 of the images at the run's resolution and channels, labels and class
names) and the recipe, so a changed folder or recipe gets a new evaluator instead of a stale one.  Weights and card go to
`<cache>/evaluators/`, where `evaluator_for` finds them (metrics/evaluator.py).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.data import ImageData
from gankit.errors import GankitError
from gankit.metrics.evaluator import Evaluator, evaluator_for, load_evaluator, save_evaluator
from gankit.metrics.evaluator_ssl import fit_ssl, ssl_quality
from gankit.metrics.evaluator_train import accuracy, fit_classifier
from gankit.metrics.reference import content_hash
from gankit.util.atomic import atomic_write
from gankit.util.jsonfile import DamagedFile, read_object

METHODS = ("auto", "classifier", "ssl")
MAX_SIZE = 32  # evaluators measure at most 32x32 px: minutes on a CPU, not hours
MIN_IMAGES = 200  # below this, no evaluator (and no FID worth the name)
SSL_STEPS = 600  # batches of 128 image pairs
CLASSIFIER_BATCHES = 1000  # about as many as the shipped cats+dogs classifier trained for


def fingerprint(data: ImageData) -> str:
    """sha256 of the images (their content hash, as the reference cache keys them), labels and class names."""
    h = hashlib.sha256(content_hash(data.images).encode())
    h.update(data.labels.contiguous().numpy().tobytes())
    h.update(json.dumps(list(data.class_names)).encode())
    return h.hexdigest()


def resolve_method(data: ImageData, method: str = "auto") -> str:
    if method not in METHODS:
        raise GankitError(f"unknown evaluator method {method!r}; choose one of: {', '.join(METHODS)}")
    labelled = len(data.class_names) >= 2 and int(data.labels.unique().numel()) >= 2
    if method == "classifier" and not labelled:
        raise GankitError(f"{data.name}: a classifier evaluator needs labelled images (class sub-folders); "
                          "use method ssl for a flat folder")
    return method if method != "auto" else ("classifier" if labelled else "ssl")


def recipe(method: str) -> str:
    """What makes the evaluator besides the data: a changed recipe is a new key, never a stale file."""
    schedule = f"{SSL_STEPS} steps" if method == "ssl" else f"{CLASSIFIER_BATCHES} batches"
    return f"{method} v1, {schedule}, at most {MAX_SIZE} px"


def data_evaluator_key(data: ImageData, method: str = "auto", fp: str | None = None) -> str:
    """`fp`: the data's fingerprint when the caller has it already (hashing large data takes a while)."""
    method = resolve_method(data, method)
    return f"{method}-{hashlib.sha256(((fp or fingerprint(data)) + recipe(method)).encode()).hexdigest()[:16]}"


def evaluator_dir() -> Path:
    from gankit.data.cache import cache_root

    return cache_root() / "evaluators"


def find_data_evaluator(data: ImageData, method: str = "auto") -> Evaluator | None:
    key = data_evaluator_key(data, method)
    w, c = evaluator_dir() / f"{key}.safetensors", evaluator_dir() / f"{key}.json"
    return load_evaluator(w, c) if w.is_file() and c.is_file() else None


def _downscale(images: torch.Tensor) -> torch.Tensor:
    h, w = images.shape[-2:]
    if h != w:
        raise GankitError(f"evaluator: images are {h}x{w}; evaluators need square images (set data.resolution=N)")
    if h <= MAX_SIZE:
        return images
    out = [F.interpolate(images[i : i + 500].float(), size=(MAX_SIZE, MAX_SIZE), mode="bilinear", antialias=True,
                         align_corners=False).round().clamp(0, 255).to(torch.uint8)
           for i in range(0, images.shape[0], 500)]
    return torch.cat(out)


def _widths(size: int, method: str) -> tuple[int, ...]:
    # the classifiers: the shipped evaluators' widths (two blocks at 28 px, three at 32 px); the
    # SimCLR net sees two views per image per step, so it is half as wide to train in minutes
    widths = (32, 64) if size < 32 else (32, 64, 128)
    return widths if method == "classifier" else tuple(w // 2 for w in widths)


def train_data_evaluator(data: ImageData, method: str = "auto", seed: int = 0, out_dir: str | Path | None = None,
                         log=print) -> dict:
    """Train the evaluator for `data`, write <key>.safetensors + <key>.json; returns the card."""
    method = resolve_method(data, method)
    fp = fingerprint(data)
    key = data_evaluator_key(data, method, fp)
    n = len(data)
    if n < MIN_IMAGES:
        raise GankitError(f"{data.name}: {n} images are too few for an evaluator (at least {MIN_IMAGES}); "
                          "FID on so few images would not be meaningful either")
    t0 = time.time()
    x = _downscale(data.images)
    size = int(x.shape[-1])
    # a fixed held-out part (not the data's first images: folders are stored class by class)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_hold = min(5000, max(50, n // 10))
    tr, ho = perm[n_hold:], perm[:n_hold]
    widths = _widths(size, method)
    out = Path(out_dir) if out_dir is not None else evaluator_dir()
    out.mkdir(parents=True, exist_ok=True)
    note = f" (downscaled from {data.images.shape[-1]} px)" if size != data.images.shape[-1] else ""
    for card_file in sorted(out.glob(f"{method}-*.json")):  # an evaluator made for this data before it changed
        try:
            old = read_object(card_file, "")
        except (OSError, DamagedFile):  # a damaged card of another evaluator: nothing to compare with
            continue
        if old.get("data") == data.name and old.get("fingerprint") != fp:
            log(f"evaluator {key}: {data.name} changed since evaluator {old.get('key')} was made for it "
                f"({old.get('images')} images then, {n} now): a new evaluator for the new images; figures measured "
                "with the old one stay tied to its sha256")
    log(f"evaluator {key}: training a {method} on {n - n_hold} images of {data.name} at {size} px{note}, "
        f"{n_hold} held out; once for this data, then reused from {out}")

    def progress(done: int, total: int, what: str, loss: float) -> None:
        log(f"evaluator {key}: {what} {done}/{total} loss {loss:.4f} ({time.time() - t0:.0f}s)")

    if method == "classifier":
        epochs = min(30, max(3, math.ceil(CLASSIFIER_BATCHES * 128 / len(tr))))
        net = fit_classifier(x[tr], data.labels[tr], len(data.class_names), widths, hflip=True, shift=2,
                             epochs=epochs, seed=seed, log=lambda ep, loss: progress(ep, epochs, "epoch", loss))
        quality = {"test_accuracy": round(accuracy(net, x[ho], data.labels[ho]), 5), "accuracy_images": n_hold}
        how = (f"{epochs} epochs of AdamW (one-cycle lr 2e-3, weight decay 5e-4), batch 128, random shifts of up "
               f"to 2 px and horizontal flips")
        class_names = list(data.class_names)
    else:
        net = fit_ssl(x[tr], widths, SSL_STEPS, seed, log=lambda step, loss: progress(step, SSL_STEPS, "step", loss))
        quality = {**ssl_quality(net, x[ho], seed=seed), "quality_images": n_hold}
        how = (f"SimCLR (NT-Xent, temperature 0.2), {SSL_STEPS} steps of 128 image pairs, AdamW (one-cycle lr 2e-3, "
               "weight decay 5e-4); views: DiffAugment colour, translation 0.2, cutout 0.3, horizontal flips")
        class_names = []
    sha = save_evaluator(net, out / f"{key}.safetensors", {"key": key})
    card = {
        "key": key, "method": method, "class_names": class_names, "arch": net.arch,
        "feature_dim": net.head.in_features, **quality,
        "split": f"trained on {len(tr)} images, {n_hold} held out (seeded permutation {seed})",
        "data": data.name, "fingerprint": fp, "recipe": recipe(method), "images": n,
        "measured_at": size,
        "how_trained": f"{how}, seed {seed}, {len(tr)} training images",
        "sha256": sha, "command": f"gankit evaluator train --set data.dataset=... (method {method})",
        "date": datetime.date.today().isoformat(), "torch": torch.__version__,
        "train_seconds": round(time.time() - t0, 1),
    }
    atomic_write(out / f"{key}.json", json.dumps(card, indent=2) + "\n")
    shown = (f"accuracy {quality['test_accuracy']:.4f}" if method == "classifier" else
             f"held-out pair accuracy {quality.get('ssl_pair_accuracy', 0):.3f} "
             f"(chance {quality.get('ssl_chance_accuracy', 0):.4f})")
    log(f"evaluator {key}: {shown}, {card['train_seconds']:.0f}s -> {out}")
    return card


def ensure_evaluator(data: ImageData, method: str = "auto", log=print) -> Evaluator:
    """The evaluator made for `data` (the shipped one is the caller's to prefer), trained once if missing."""
    found = find_data_evaluator(data, method)
    return found if found is not None else _made(data, method, log)


def _made(data: ImageData, method: str, log) -> Evaluator:
    card = train_data_evaluator(data, method, log=log)
    return load_evaluator(evaluator_dir() / f"{card['key']}.safetensors", evaluator_dir() / f"{card['key']}.json")


def find_evaluator(dataset_key: str, data: ImageData, method: str = "auto") -> Evaluator | None:
    """The evaluator that measures `data`: the shipped one for its dataset, else one made for it, else None."""
    if method == "auto":
        if dataset_key == "stacked-mnist":  # the shipped MNIST classifier, channel by channel
            from gankit.metrics.modes import StackedMnistEvaluator

            return StackedMnistEvaluator()
        shipped = evaluator_for(dataset_key, data.class_names)
        if shipped is not None:
            return shipped
    return find_data_evaluator(data, method) if len(data) >= MIN_IMAGES else None


def evaluator_or_make(dataset_key: str, data: ImageData, method: str = "auto", log=None) -> Evaluator | None:
    """`find_evaluator`, else this data's evaluator trained now (once; then cached), its progress on
    stderr by default; None below MIN_IMAGES (the caller says why)."""
    found = find_evaluator(dataset_key, data, method)
    if found is not None or len(data) < MIN_IMAGES:
        return found
    return _made(data, method, log or (lambda line: print(line, file=sys.stderr, flush=True)))  # not looked up twice
