"""The evaluator network: a small CNN classifier whose penultimate layer is the feature space.

gankit measures GANs in the feature space of its own classifiers (one per dataset, trained
by `gankit evaluator train DATASET`, shipped in metrics/weights/) so every user's numbers are
comparable and nothing has to be downloaded.  A shipped evaluator is a `.safetensors` file
(weights, architecture in its metadata) plus a `.json` card (accuracy, sha256, how trained).

`evaluator_for` picks the evaluator for a dataset; `embed` turns uint8 images into
(features, logits), resizing and converting channels to what the evaluator was trained on.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.models.evaluator_net import FEATURE_DIM, EvalNet
from gankit.util.atomic import atomic_path
from gankit.util.jsonfile import DamagedFile, check_fields, read_object
from gankit.util.names import file_sha256

# evaluator key -> the dataset keys and class-name sets it serves
EVALUATOR_DATASETS: dict[str, tuple[str, ...]] = {
    "fashion-mnist": ("fashion-mnist",),
    "mnist": ("mnist",),
    "cifar10": ("cifar10",),
    "cifar10-catdog": ("cifar10", "folder"),
}


class Evaluator(nn.Module):
    """A frozen EvalNet with its card; `embed` accepts uint8 images of any size/channels."""

    def __init__(self, net: EvalNet, card: dict):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.card = card
        self.key: str = card["key"]
        self.sha256: str = card["sha256"]
        self.class_names: list[str] = list(card["class_names"])
        self.num_features = FEATURE_DIM

    def train(self, mode: bool = True) -> "Evaluator":
        # BN statistics and dropout must never change: the evaluator is a fixed ruler
        return super().train(False)

    def prepare(self, u8: Tensor) -> Tensor:
        """uint8 [B,C,H,W] -> float [-1,1] at the evaluator's channels and size."""
        return self.convert(u8.float() / 127.5 - 1.0)

    def convert(self, x: Tensor) -> Tensor:
        """float [-1,1] images [B,C,H,W] -> the evaluator's channels and size (differentiable:
        `gankit project` backpropagates through it)."""
        a = self.net.arch
        if x.shape[1] != a["in_ch"]:
            if x.shape[1] == 3 and a["in_ch"] == 1:
                x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
            elif x.shape[1] == 1 and a["in_ch"] == 3:
                x = x.expand(-1, 3, -1, -1)
            else:
                raise GankitError(f"evaluator {self.key}: cannot convert {x.shape[1]}-channel images "
                                  f"to {a['in_ch']} channels")
        if x.shape[-2:] != (a["size"], a["size"]):
            x = F.interpolate(x, size=(a["size"], a["size"]), mode="bilinear", antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def embed(self, u8: Tensor, batch: int = 1000, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
        """Features [N,128] and logits [N,C] (float32, on CPU) of uint8 images [N,C,H,W]."""
        self.to(device)
        feats, logits = [], []
        for i in range(0, u8.shape[0], batch):
            f, lo = self.net(self.prepare(u8[i : i + batch]).to(device))
            feats.append(f.float().cpu())
            logits.append(lo.float().cpu())
        if not feats:
            return torch.zeros(0, FEATURE_DIM), torch.zeros(0, len(self.class_names))
        return torch.cat(feats), torch.cat(logits)

    def forward(self, u8: Tensor) -> Tensor:
        return self.embed(u8)[0]




def save_evaluator(net: EvalNet, path: Path, metadata: dict[str, str]) -> str:
    """Write the weights as safetensors (architecture in the metadata); returns the file's sha256."""
    # one metadata entry: safetensors writes several in hash-map order, which differs between
    # processes and would make the file's sha256 (recorded in the card) irreproducible
    meta = {"gankit": json.dumps({"arch": net.arch, **metadata}, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp), metadata=meta)
        tmp.chmod(0o644)  # safetensors writes 0600; shipped package data must be world-readable
    return file_sha256(path)


def load_evaluator(weights: Path, card_file: Path) -> Evaluator:
    """Load an evaluator; a file whose sha256 differs from its card is refused (not silently used)."""
    fix = "the evaluator's card is damaged: reinstall gankit (a shipped one) or rerun `gankit evaluator train`"
    card = read_object(Path(card_file), fix)
    check_fields(card, {"sha256": str, "arch": dict, "command": str}, card_file, fix)
    arch = card.get("arch") or {}
    missing = [k for k in ("sha256", "arch") if not card.get(k)] + \
        [f"arch.{k}" for k in ("in_ch", "size", "n_classes", "widths") if k not in arch]
    if missing:
        raise DamagedFile(f"{card_file}: has no {', '.join(missing)}; {fix}")
    check_fields(arch, {"in_ch": int, "size": int, "n_classes": int, "widths": list}, card_file, fix)
    sha = file_sha256(weights)
    if sha != card["sha256"]:
        raise GankitError(f"evaluator {weights}: sha256 {sha[:12]}... does not match its card "
                          f"({card['sha256'][:12]}...); the file is corrupt or was replaced - "
                          f"reinstall gankit or rerun `{card.get('command', 'gankit evaluator train')}`")
    a = card["arch"]
    net = EvalNet(a["in_ch"], a["size"], a["n_classes"], a["widths"])
    net.load_state_dict(load_file(str(weights)))
    return Evaluator(net, card)


def weight_dirs() -> list[Path]:
    """Where evaluators are looked for: the shipped ones, then user-trained ones in the cache."""
    from gankit.data.cache import cache_root

    return [Path(str(resources.files("gankit") / "metrics" / "weights")), cache_root() / "evaluators"]


def find_evaluator_files(key: str) -> tuple[Path, Path] | None:
    for d in weight_dirs():
        w, c = d / f"{key}.safetensors", d / f"{key}.json"
        if w.is_file() and c.is_file():
            return w, c
    return None


def evaluator_key(dataset_key: str, class_names: list[str]) -> str | None:
    """The evaluator that serves a dataset with these classes, or None.

    CIFAR-style data with exactly the classes cat and dog (the subset this machine has) maps to
    the 2-class evaluator; an evaluator only serves data with its own class list.
    """
    names = [str(c).lower() for c in class_names]
    if dataset_key in ("fashion-mnist", "mnist"):
        return dataset_key
    if sorted(names) == ["cat", "dog"] and dataset_key in EVALUATOR_DATASETS["cifar10-catdog"]:
        return "cifar10-catdog"
    if dataset_key == "cifar10" and len(names) == 10:
        return "cifar10"
    return None


def evaluator_for(dataset_key: str, class_names: list[str]) -> Evaluator | None:
    """The shipped (or user-trained) evaluator for a dataset, or None if there is none."""
    key = evaluator_key(dataset_key, class_names)
    files = find_evaluator_files(key) if key else None
    if files is None:
        return None
    # a class subset of the data (data.classes) is still judged by the full classifier
    return load_evaluator(*files)
