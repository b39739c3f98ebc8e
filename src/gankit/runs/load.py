"""Rebuilding a trained generator from files alone: a run's checkpoint or an export folder.

`load_run(RUN)` rebuilds G (the EMA G when the run kept one) and D from the config stored in
the checkpoint, never from flags that must match; `load_generator(PATH)` takes a run
directory or a folder written by `gankit export` (generator.safetensors + config.json).  Both
return one type, `LoadedRun`, so generate, evaluate and export read any source alike.
`check_resumable` is the same check before `--resume` writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from gankit import __version__
from gankit.config import Config, from_dict
from gankit.data import num_classes
from gankit.errors import GankitError
from gankit.models import MODELS, build_models
from gankit.models.sampling import uniform_prior
from gankit.runs.checkpoint import load_state, load_weights, mismatch_message, peek_state, weight_mismatches
from gankit.runs.layout import RunDir, open_run_dir
from gankit.util.jsonfile import read_object

EXPORT_FORMAT = "gankit-generator"
EXPORT_FORMAT_VERSION = 1  # the export layout this gankit writes; it reads this one and older (no field: 0)
WEIGHTS = "generator.safetensors"
ONNX_WEIGHTS = "generator.onnx"  # `gankit export --format onnx`: the graph instead of the weights
MAX_SIDE = 4096  # pixels: data.resolution's upper bound; a larger stored shape is damage, not a model


@dataclass
class LoadedRun:
    """A trained generator and what sampling needs, from a run's checkpoint or an export."""

    cfg: Config
    G: nn.Module  # the generator to sample from (the EMA one when the run kept it), in eval mode
    class_names: list[str]
    prior: torch.Tensor  # the training label prior (sampling.label_prior)
    step: int
    sampler: str = "G"  # "ema" when G is the run's EMA generator
    run: RunDir | None = None  # None for an export folder
    D: nn.Module | None = None  # a run's only
    state: dict[str, Any] = field(default_factory=dict)  # the whole checkpoint (a run's only)
    img_shape: tuple[int, int, int] = (0, 0, 0)  # [C, H, W] of G's images


def checkpoint_prior(state: dict[str, Any], num_classes: int) -> torch.Tensor:
    """The label prior stored in a checkpoint; uniform for checkpoints older than the prior."""
    prior = state.get("label_prior")
    return prior.double() if prior is not None else uniform_prior(num_classes)


def checked_fields(state: dict[str, Any], ckpt: Path) -> tuple[Config, tuple[int, int, int], list[str]]:
    """(config, image shape, class names) of a loaded checkpoint, every field load_run reads checked
    first: a damaged or forged checkpoint is one GankitError, not a KeyError or a model builder's crash."""
    def bad(what: str) -> GankitError:
        return GankitError(f"{ckpt}: {what}; the checkpoint is damaged or not a gankit training checkpoint, "
                           "use another one or retrain")

    missing = [k for k in ("config", "img_shape", "class_names", "step", "G", "D") if state.get(k) is None]
    if missing:
        raise bad(f"it lacks {', '.join(missing)}")
    if not isinstance(state["config"], dict):
        raise bad("its config is not a table of settings")
    try:
        cfg = from_dict(state["config"])
    except GankitError as e:
        raise bad(f"its config is invalid ({e})") from None
    if cfg.model.name not in MODELS:
        raise bad(f"its model.name={cfg.model.name!r} is not a model this gankit has ({', '.join(MODELS)})")
    shape = state["img_shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(v) is int for v in shape)
            and 1 <= shape[0] <= 4 and all(1 <= v <= MAX_SIDE for v in shape[1:])):  # before any allocation
        raise bad(f"its img_shape {str(shape)[:60]} is not [channels 1-4, height, width up to {MAX_SIDE}]")
    names = state["class_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad("its class_names is not a list of names")
    if type(state["step"]) is not int:
        raise bad(f"its step {str(state['step'])[:30]} is not an integer")
    for key in ("G", "D", "G_ema"):
        sd = state.get(key, {})
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise bad(f"its {key} is not a set of weights")
    prior = state.get("label_prior")
    if prior is not None and not (isinstance(prior, torch.Tensor) and tuple(prior.shape) == (num_classes(names),)):
        raise bad("its label_prior is not one probability per class")
    return cfg, (shape[0], shape[1], shape[2]), list(names)


def load_run(path: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> LoadedRun:
    run = open_run_dir(path)
    ckpt = Path(checkpoint) if checkpoint else run.last_checkpoint
    if checkpoint and not ckpt.is_file():
        raise GankitError(f"--checkpoint {ckpt}: no such file; give a checkpoint of this run, e.g. "
                          f"{run.checkpoints}/last.safetensors")
    if not ckpt.is_file():
        raise GankitError(f"{path}: no checkpoint yet at {ckpt}; train longer or pass --checkpoint")
    state = load_state(ckpt)
    cfg, shape, class_names = checked_fields(state, ckpt)
    classes = num_classes(class_names)
    try:
        G, D = build_models(cfg.model, shape, classes)
    except (RuntimeError, ValueError, TypeError, OverflowError, ZeroDivisionError, MemoryError) as e:
        raise GankitError(f"{ckpt}: cannot build the model its config describes ({type(e).__name__}: "
                          f"{e}); the checkpoint is damaged or forged, use another one or retrain") from None
    load_weights(G, state["G_ema"] if state.get("G_ema") else state["G"], "G", ckpt)
    load_weights(D, state["D"], "D", ckpt)
    G.to(device).eval()
    D.to(device).eval()
    return LoadedRun(cfg, G, class_names, checkpoint_prior(state, classes), int(state["step"]),
                     "ema" if state.get("G_ema") else "G", run=run, D=D, state=state, img_shape=shape)


def check_resumable(run: RunDir, cfg: Config) -> None:
    """Before a resume writes anything: the run's last checkpoint is one this gankit reads, and
    its G and D fit the models `cfg` builds (shapes from the file's header alone)."""
    ckpt = run.last_checkpoint
    state = peek_state(ckpt)
    try:  # a damaged or forged header: one line, like load_run's checked_fields
        shape, classes = tuple(int(v) for v in state["img_shape"]), num_classes(state["class_names"])
        if len(shape) != 3 or not isinstance(state["config"], dict):
            raise ValueError("img_shape or config")
    except (KeyError, TypeError, ValueError) as e:
        raise GankitError(f"{ckpt}: its {e} is missing or malformed; the checkpoint is damaged or not a gankit "
                          "training checkpoint, use another one or start a new run") from None
    with torch.random.fork_rng(devices=[]):
        G, D = build_models(cfg.model, shape, classes)
    for what, net in (("G", G), ("D", D)):
        problems = weight_mismatches(net, state.get(what) or {})
        if problems:
            was, now = state["config"].get("model", {}), cfg.to_dict()["model"]
            changed = [f"model.{k}={now[k]!r} (the checkpoint has {was[k]!r})"
                       for k in now if k in was and was[k] != now[k]]
            fix = (f"{run.config_file} sets {', '.join(changed)}: put the checkpoint's values back, or start a "
                   "new run") if changed else ""
            raise GankitError(mismatch_message(ckpt, what, problems, fix))


def is_export(path: str | Path) -> bool:
    p = Path(path)
    return ((p / WEIGHTS).is_file() or (p / ONNX_WEIGHTS).is_file()) and (p / "config.json").is_file()


def _load_export(path: Path) -> LoadedRun:
    onnx = not (path / WEIGHTS).is_file()  # an ONNX export holds generator.onnx instead
    try:
        meta = read_object(path / "config.json", "export the run again (`gankit export RUN --out DIR`)")
        weights = {} if onnx else load_file(str(path / WEIGHTS))
    except (OSError, ValueError, SafetensorError) as e:
        raise GankitError(f"{path}: not a readable gankit export ({e}); export the run again") from None
    if meta.get("format") != EXPORT_FORMAT:
        raise GankitError(f"{path}/config.json: not a gankit generator export (format {meta.get('format')!r})")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise GankitError(f"{path}/config.json: format_version {version!r} is not a number; export the run again")
    if version > EXPORT_FORMAT_VERSION:
        raise GankitError(f"{path}: export format {version!r} (written by gankit {meta.get('gankit_version') or '?'}) "
                          f"is newer than this gankit {__version__} reads (format {EXPORT_FORMAT_VERSION} and older); "
                          "upgrade gankit (pip install -U gankit) to load it")
    if not isinstance(meta, dict):
        raise GankitError(f"{path}/config.json: not a gankit generator export (a JSON object); export the run again")
    prior = meta.get("label_prior")
    try:  # the same checks as a checkpoint's, before anything is built from it
        prior = torch.tensor(prior, dtype=torch.float64) if prior is not None else None
    except (TypeError, ValueError, RuntimeError):
        prior = "malformed"
    cfg, shape, class_names = checked_fields(
        {"config": meta.get("config"), "img_shape": meta.get("img_shape"), "class_names": meta.get("class_names"),
         "step": meta.get("step"), "G": weights, "D": {}, "label_prior": prior}, path / "config.json")
    if onnx:  # run by onnxruntime: no PyTorch model is built
        from gankit.models.onnx_graph import OnnxGenerator

        G = OnnxGenerator(path / ONNX_WEIGHTS, cfg.model.z_dim, num_classes(class_names), bool(cfg.model.conditional))
    else:
        G, _ = build_models(cfg.model, shape, num_classes(class_names))
        load_weights(G, weights, "G", path)
    return LoadedRun(cfg, G.eval(), class_names, prior if prior is not None else uniform_prior(num_classes(class_names)),
                     meta["step"], str(meta.get("sampler", "G")), img_shape=shape)


def load_generator(path: str | Path, checkpoint: str | None = None) -> LoadedRun:
    """The sampling generator of an export folder or of a run directory's checkpoint."""
    if is_export(path):
        if checkpoint:
            raise GankitError(f"--checkpoint: {path} is an exported generator, which has one set of weights")
        return _load_export(Path(path))
    return load_run(path, checkpoint)
