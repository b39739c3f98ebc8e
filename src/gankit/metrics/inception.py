"""Optional Inception-v3 features (the FID network of the literature), when its weights are here.

gankit never downloads them: many machines cannot, and on 28x28 grayscale data Inception is a
poor judge anyway.  They are used when both torch-fidelity (the package torchmetrics uses for
Inception) and the weight file are present; otherwise `inception_status` explains where to put
the file.  The file is looked for at $GANKIT_INCEPTION, then <cache>/inception/, then torch
hub's checkpoint folder (where torch-fidelity itself would have saved it).

torch-fidelity's package `__init__` imports torchvision and scipy (for its dataset and LPIPS
helpers), which its Inception extractor does not use; where either is missing (no CPU build of
torchvision exists for some platforms) `fidelity_without_torchvision` registers the package
without running that `__init__`, so the extractor, and torchmetrics' wrapper of it, still load.

The .pth file is a pickle that torch-fidelity `torch.load`s; gankit first loads it itself with
`weights_only=True` (tensors and containers only, no code), so a foreign file never runs anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import types
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import GankitError



def _fidelity_weights_name() -> str:
    """torch-fidelity's file name for its FID Inception weights, the end of its download URL, read
    from its source (importing the package may need torchvision), so the name is never typed twice."""
    spec = importlib.util.find_spec("torch_fidelity")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        src = Path(folder) / "feature_extractor_inceptionv3.py"
        found = re.search(r"weights-inception-[\w.-]+?\.pth", src.read_text()) if src.is_file() else None
        if found:
            return found.group(0)
    return "torch-fidelity's weights-inception-*.pth"


WEIGHTS_NAME = _fidelity_weights_name()
# layers every torch-fidelity FID Inception state dict has, first and last (its FeatureExtractorInceptionV3)
INCEPTION_KEYS = ("Conv2d_1a_3x3.conv.weight", "fc.weight")


def fidelity_without_torchvision() -> None:
    """Let `torch_fidelity.<module>` import without the package `__init__` when torchvision or
    scipy is missing (see the module docstring).  Must run before torchmetrics.image is imported."""
    if "torch_fidelity" in sys.modules:
        return
    spec = importlib.util.find_spec("torch_fidelity")  # locates the package without importing it
    if spec is None or spec.submodule_search_locations is None:
        return
    if all(importlib.util.find_spec(m) is not None for m in ("torchvision", "scipy")):
        return  # the package imports as it is
    package = types.ModuleType("torch_fidelity")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["torch_fidelity"] = package


def candidate_paths(explicit: str | Path | None = None) -> list[Path]:
    from gankit.data.cache import cache_root

    if explicit:  # --inception-weights FILE: that file and no other
        return [Path(explicit).expanduser()]
    out = []
    env = os.environ.get("GANKIT_INCEPTION", "").strip()
    if env:
        out.append(Path(env).expanduser())
    out.append(cache_root() / "inception" / WEIGHTS_NAME)
    out.append(Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME)
    return out


def find_weights(explicit: str | Path | None = None) -> Path | None:
    return next((p for p in candidate_paths(explicit) if p.is_file()), None)


def inception_status(explicit: str | Path | None = None) -> tuple[Path | None, str]:
    """(weights path or None, a one-line message saying what is missing and where it goes)."""
    from gankit.data.cache import cache_root

    path = find_weights(explicit)
    has_fidelity = importlib.util.find_spec("torch_fidelity") is not None
    if path and has_fidelity:
        return path, f"Inception-v3 metrics use {path}"
    missing = []
    if not path and explicit:
        missing.append(f"--inception-weights {explicit}: no such file")
    elif not path:
        missing.append(f"put {WEIGHTS_NAME} (torch-fidelity's FID Inception weights, 91 MB) at "
                       f"{cache_root() / 'inception' / WEIGHTS_NAME}, point GANKIT_INCEPTION at the file or give "
                       "--inception-weights FILE")
    if not has_fidelity:
        missing.append("install torch-fidelity (pip install torch-fidelity==0.3.0; without torchvision: add --no-deps)")
    return None, "Inception-v3 metrics skipped: " + "; and ".join(missing)


def check_weights_file(path: Path) -> None:
    """Refuse a weights file that holds anything but tensors (a .pth is a pickle, which can run
    code): torch.load with weights_only=True admits tensors and plain containers only."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for a forbidden global; RuntimeError, EOFError ... for garbage
        reason = " ".join(str(e).split())[:200]
        raise GankitError(f"{path}: not a plain weights file ({type(e).__name__}: {reason}); refusing to load "
                          f"it: put torch-fidelity's {WEIGHTS_NAME} there or remove the file") from None
    # torch-fidelity's FID Inception: a state dict of tensors with its first and last layers (names
    # checked here, shapes when it loads), not a bare tensor or another network's weights
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        what = type(state).__name__ if not isinstance(state, dict) else "a dict of other things than tensors"
        raise GankitError(f"{path}: holds {what}, not a network's weights; put torch-fidelity's {WEIGHTS_NAME} "
                          "there or remove the file")
    missing = [k for k in INCEPTION_KEYS if k not in state]
    if missing:
        raise GankitError(f"{path}: holds the weights of another network ({len(state)} tensors, no "
                          f"{', '.join(missing)}); put torch-fidelity's {WEIGHTS_NAME} there or remove the file")


class InceptionEmbedder(nn.Module):
    """Inception-v3 pool features (2048) and logits of uint8 images; same `embed` API as Evaluator."""

    num_features = 2048

    def __init__(self, weights: Path):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        check_weights_file(Path(weights))  # before torch-fidelity unpickles it
        try:
            self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=str(weights))
        except RuntimeError as e:  # torch's load_state_dict: layers of other shapes (hundreds of lines)
            first = " ".join(str(e).split())[:160]
            raise GankitError(f"{weights}: its layers do not fit torch-fidelity's Inception ({first}...); put "
                              f"torch-fidelity's {WEIGHTS_NAME} there or remove the file") from None
        self.key = "inception-v3"
        self.sha256 = hashlib.sha256(Path(weights).read_bytes()).hexdigest()

    @torch.no_grad()
    def embed(self, u8: Tensor, batch: int = 100, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
        self.net.to(device)
        feats, logits = [], []
        for i in range(0, u8.shape[0], batch):
            x = u8[i : i + batch]
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            # forward() returns the first feature only; this gives each of features_list
            f, lo = self.net._torch_fidelity_forward(x.contiguous().to(device))
            feats.append(f.float().cpu())
            logits.append(lo.float().cpu())
        return torch.cat(feats), torch.cat(logits)
