"""`gankit export RUN --out DIR`: the generator alone, for inference, as diffusers ships a model.

    DIR/config.json             {"format": "gankit-generator", "format_version", "gankit_version",
                                 "config": the run's Config, "img_shape", "class_names",
                                 "label_prior", "step", "source"}
    DIR/generator.safetensors   the sampling generator's weights (the EMA G with its
                                re-estimated batch-norm statistics when the run kept one)

`load_generator(path)` rebuilds the generator from such a folder or from a run directory,
so `gankit generate` takes either.  No optimiser, no D: a few hundred KB instead of a
training checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from . import __version__
from .atomic import atomic_path, atomic_write
from .checkpoint import load_weights
from .config import Config, from_dict
from .errors import GankitError
from .models import build_models
from .rundir import load_run

FORMAT = "gankit-generator"
FORMAT_VERSION = 1  # the layout this gankit writes; it reads this one and older (no field: 0)
WEIGHTS = "generator.safetensors"


@dataclass
class Generator:
    cfg: Config
    G: nn.Module  # in eval mode
    class_names: list[str]
    prior: torch.Tensor  # the training label prior
    step: int


def is_export(path: str | Path) -> bool:
    p = Path(path)
    return (p / WEIGHTS).is_file() and (p / "config.json").is_file()


def export_run(run_dir: str | Path, out: str | Path, checkpoint: str | None = None) -> str:
    loaded = load_run(run_dir, checkpoint)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise GankitError(f"--out {out}: exists and is not empty; choose a new folder")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "gankit_version": __version__,
            "config": loaded.cfg.to_dict(), "img_shape": list(loaded.state["img_shape"]),
            "class_names": loaded.class_names, "label_prior": [float(p) for p in loaded.prior],
            "step": loaded.step, "source": str(Path(run_dir).resolve()),
            "sampler": "ema" if loaded.state.get("G_ema") else "G"}
    weights = {k: v.detach().cpu().contiguous().clone() for k, v in loaded.G.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(weights, str(tmp))
    atomic_write(out / "config.json", json.dumps(meta, indent=2) + "\n")  # last: marks the folder complete
    return f"exported the generator of {run_dir} (step {loaded.step}) to {out}"


def _load_export(path: Path) -> Generator:
    try:
        meta = json.loads((path / "config.json").read_text())
        weights = load_file(str(path / WEIGHTS))
    except (OSError, ValueError, SafetensorError) as e:
        raise GankitError(f"{path}: not a readable gankit export ({e}); export the run again") from None
    if meta.get("format") != FORMAT:
        raise GankitError(f"{path}/config.json: not a gankit generator export (format {meta.get('format')!r})")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise GankitError(f"{path}/config.json: format_version {version!r} is not a number; export the run again")
    if version > FORMAT_VERSION:
        raise GankitError(f"{path}: export format {version!r} (written by gankit {meta.get('gankit_version') or '?'}) "
                          f"is newer than this gankit {__version__} reads (format {FORMAT_VERSION} and older); "
                          "upgrade gankit (pip install -U gankit) to load it")
    cfg = from_dict(meta["config"])
    class_names = list(meta["class_names"])
    G, _ = build_models(cfg.model, tuple(meta["img_shape"]), max(len(class_names), 1))
    load_weights(G, weights, "G", path)
    return Generator(cfg, G.eval(), class_names, torch.tensor(meta["label_prior"], dtype=torch.float64),
                     int(meta["step"]))


def load_generator(path: str | Path, checkpoint: str | None = None) -> Generator:
    """The sampling generator of an export folder or of a run directory's checkpoint."""
    if is_export(path):
        if checkpoint:
            raise GankitError(f"--checkpoint: {path} is an exported generator, which has one set of weights")
        return _load_export(Path(path))
    loaded = load_run(path, checkpoint)
    return Generator(loaded.cfg, loaded.G, loaded.class_names, loaded.prior, loaded.step)
