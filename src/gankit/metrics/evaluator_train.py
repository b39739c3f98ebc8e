"""`gankit evaluator train DATASET`: the deterministic recipe that produced the shipped evaluators.

Same seed + same data + same torch build -> the same weights: the data order and the
augmentation come from one seeded generator, torch runs in deterministic mode on one thread,
and dropout draws from the seeded global RNG.  (Float results can still differ across CPU types or thread
counts, which is why the card records the sha256 and accuracy of the file that was shipped.)

Each recipe says which split trains and which split measures accuracy; on a machine without
MNIST's training split the MNIST evaluator trains on the first 8,000 test digits and reports
accuracy on the last 2,000, and its card says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.config import DataConfig
from gankit.errors import GankitError
from gankit.metrics.evaluator import save_evaluator
from gankit.models.evaluator_net import EvalNet
from gankit.util.atomic import atomic_write


@dataclass(frozen=True)
class Recipe:
    data: DataConfig  # the training data (path filled in from data_dir for folders)
    widths: tuple[int, ...]
    hflip: bool  # mirror images: right for clothes and animals, wrong for digits
    epochs: int
    shift: int = 2  # random translation of up to this many pixels
    # None: the test split measures accuracy; (a, b): train on rows [:a], measure on [a:b] of `data`
    holdout: tuple[int, int] | None = None
    split_note: str = ""


RECIPES: dict[str, Recipe] = {
    # no shifts: with them this net underfits Fashion-MNIST in 8 epochs (91.4% vs 92.5%)
    "fashion-mnist": Recipe(DataConfig(dataset="fashion-mnist"), (32, 64), True, 8, shift=0,
                            split_note="trained on the 60,000 train images, accuracy on the 10,000 test images"),
    "mnist": Recipe(DataConfig(dataset="mnist", split="test"), (32, 64), False, 10, holdout=(8000, 10000),
                    split_note="only MNIST's 10,000-image test split was available when this was trained: "
                               "trained on its first 8,000 images, accuracy on its last 2,000 "
                               "(so MNIST test-split metrics partly use images the evaluator saw)"),
    "cifar10": Recipe(DataConfig(dataset="cifar10"), (32, 64, 128), True, 15,
                      split_note="trained on the 50,000 train images, accuracy on the 10,000 test images"),
    "cifar10-catdog": Recipe(DataConfig(dataset="folder"), (32, 64, 128), True, 12,
                             split_note="CIFAR-10 cat and dog only (JPEG re-encoding, folder layout "
                                        "{train,test}/{cat,dog}): trained on the 10,000 train images, "
                                        "accuracy on the 2,000 test images"),
}


def _load(recipe: Recipe, key: str, data_dir: str | None, split: str):
    from gankit.data import load_dataset

    cfg = dataclasses.replace(recipe.data, split=split)
    if cfg.dataset == "folder":
        if not data_dir:
            raise GankitError(f"evaluator {key}: pass the image folder or zip as the data dir "
                              "(e.g. cifar10-catdog.zip with {train,test}/{cat,dog}/ inside)")
        cfg = dataclasses.replace(cfg, path=str(data_dir))
        return load_dataset(cfg, None)
    return load_dataset(cfg, data_dir)


def _augment(x: torch.Tensor, gen: torch.Generator, hflip: bool, pad: int = 2) -> torch.Tensor:
    """Random shifts of up to `pad` pixels (zero fill) and optional mirroring, per image."""
    b, c, h, w = x.shape
    if pad == 0 and not hflip:
        return x
    xp = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(b, c, h, w + 2 * pad)
    out = xp.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(b, c, h, w)
    out = out.gather(3, cols)
    if hflip:
        flip = torch.rand(b, generator=gen) < 0.5
        out[flip] = out[flip].flip(-1)
    return out


def _augment_note(recipe: Recipe) -> str:
    parts = ([f"random shifts of up to {recipe.shift} px"] if recipe.shift else []) + \
        (["horizontal flips"] if recipe.hflip else [])
    return " and ".join(parts) if parts else "no augmentation"


@torch.no_grad()
def accuracy(net: EvalNet, u8: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    net.eval()
    correct = 0
    for i in range(0, u8.shape[0], batch):
        _, logits = net(u8[i : i + batch].float() / 127.5 - 1.0)
        correct += int((logits.argmax(1) == labels[i : i + batch]).sum())
    return correct / max(1, u8.shape[0])


@contextlib.contextmanager
def deterministic_cpu():
    """torch's deterministic algorithms on one CPU thread for the block, then the caller's settings back:
    with one thread the float summation order, hence the weights, do not depend on the core count."""
    deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def fit_classifier(x_tr: torch.Tensor, y_tr: torch.Tensor, n_classes: int, widths, hflip: bool, shift: int,
                   epochs: int, seed: int, batch_size: int = 128, log=None) -> EvalNet:
    """An EvalNet trained on uint8 images [N,C,H,W] (square) with int64 labels, by the evaluator recipe:
    AdamW, one-cycle lr 2e-3, weight decay 5e-4, the recipe's shifts and flips.

    Reproducible for a given seed: weights and dropout come from the global RNG seeded here, data
    order and augmentation from one seeded generator (run it under `deterministic_cpu()` for the
    same weights on any machine with the same torch).  `log(epoch, mean_loss)` after each epoch.
    Used for the evaluators (`train_evaluator`) and for the Classification Accuracy Score (cas.py).
    """
    torch.manual_seed(seed)  # weight init and dropout
    gen = torch.Generator().manual_seed(seed)  # data order and augmentation
    _, c, h, _ = x_tr.shape
    net = EvalNet(c, h, n_classes, list(widths))
    steps_per_epoch = (x_tr.shape[0] + batch_size - 1) // batch_size
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(x_tr.shape[0], generator=gen)
        total = 0.0
        for i in range(0, x_tr.shape[0], batch_size):
            idx = order[i : i + batch_size]
            x = _augment(x_tr[idx].float() / 127.5 - 1.0, gen, hflip, shift)
            _, logits = net(x)
            loss = F.cross_entropy(logits, y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * idx.numel()
        if log is not None:
            log(epoch + 1, total / x_tr.shape[0])
    return net.eval()


def train_evaluator(dataset_key: str, data_dir: str | None, out_dir: str | Path,
                    epochs: int = 0, seed: int = 0, batch_size: int = 128, log=print) -> dict:
    """Train the evaluator for `dataset_key`, write <key>.safetensors + <key>.json to out_dir.

    epochs=0 uses the recipe's count.  Returns the card (also written as JSON).
    """
    if dataset_key not in RECIPES:
        raise GankitError(f"no evaluator recipe for {dataset_key!r}; choose one of: {', '.join(RECIPES)}")
    recipe = RECIPES[dataset_key]
    epochs = epochs or recipe.epochs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    train = _load(recipe, dataset_key, data_dir, recipe.data.split)
    if recipe.holdout:
        a, b = recipe.holdout
        if len(train) < b:
            raise GankitError(f"evaluator {dataset_key}: expected {b} images in {train.name}, found {len(train)}")
        x_tr, y_tr = train.images[:a], train.labels[:a]
        x_te, y_te = train.images[a:b], train.labels[a:b]
    else:
        test = _load(recipe, dataset_key, data_dir, "test")
        x_tr, y_tr, x_te, y_te = train.images, train.labels, test.images, test.labels
    _, c, h, w = x_tr.shape
    if h != w:
        raise GankitError(f"evaluator {dataset_key}: images are {h}x{w}; evaluators need square images")
    class_names = list(train.class_names)

    with deterministic_cpu():
        net = fit_classifier(x_tr, y_tr, len(class_names), recipe.widths, recipe.hflip, recipe.shift, epochs,
                             seed, batch_size, log=lambda ep, loss: log(
                                 f"evaluator {dataset_key}: epoch {ep}/{epochs} loss {loss:.4f} "
                                 f"({time.time() - t0:.0f}s)"))
        acc = accuracy(net, x_te, y_te)

    # the card ships with the package: where the data lay on the training machine is named, not its path
    where = f".../{Path(data_dir).name}" if data_dir else ""
    command = f"gankit evaluator train {dataset_key}" + (f" --data-dir {where}" if data_dir else "") \
        + (f" --epochs {epochs}" if epochs != recipe.epochs else "") + (f" --seed {seed}" if seed else "")
    sha = save_evaluator(net.eval(), out / f"{dataset_key}.safetensors", {"key": dataset_key})
    card = {
        "key": dataset_key,
        "class_names": class_names,
        "arch": net.arch,
        "feature_dim": net.head.in_features,
        "test_accuracy": round(acc, 5),
        "accuracy_images": int(x_te.shape[0]),
        "split": recipe.split_note,
        "data": train.name + (f" from {where}" if data_dir else ""),
        "how_trained": (f"{epochs} epochs of AdamW (one-cycle lr 2e-3, weight decay 5e-4), batch {batch_size}, "
                        f"{_augment_note(recipe)}, "
                        f"seed {seed}, torch deterministic mode on 1 CPU thread, {x_tr.shape[0]} training images"),
        "sha256": sha,
        "command": command,
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "train_seconds": round(time.time() - t0, 1),
    }
    atomic_write(out / f"{dataset_key}.json", json.dumps(card, indent=2) + "\n")
    log(f"evaluator {dataset_key}: accuracy {acc:.4f} on {x_te.shape[0]} held-out images -> {out}")
    return card
