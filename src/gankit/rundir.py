"""The run directory: the unit of work, and the only input of generate/evaluate/report.

    runs/0003-dcgan/
      config.json           the full validated Config
      stats.jsonl           one JSON row per log interval (append-only)
      events.jsonl          warnings and milestones (collapse warnings, interrupts, resumes)
      samples/              fixed-noise grids per epoch (fixed_e0005.png, classes_e0005.png;
                            fixed_s0000123.png for a grid taken mid-epoch)
      plots/                loss / accuracy / FID curves (PNG)
      tb/                   TensorBoard event files
      checkpoints/          last.safetensors (+ best.safetensors when evaluating)
      evals.jsonl           periodic evaluations during training (train.eval_every)
      metrics.json          written by `gankit evaluate`
      report.html           written at the end of training and by `gankit report`

Run directories are numbered and never reused, so nothing is overwritten.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_write
from .checkpoint import load_state, load_weights, mismatch_message, peek_state, weight_mismatches
from .config import Config, from_dict
from .errors import GankitError
from .sampling import uniform_prior


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def stats_file(self) -> Path:
        return self.path / "stats.jsonl"

    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.safetensors"

    def write_config(self, cfg: Config) -> None:
        atomic_write(self.config_file, cfg.to_json() + "\n")

    def append(self, file: Path, row: dict[str, Any]) -> None:
        with open(file, "a") as f:
            f.write(json.dumps(row) + "\n")

    def log_event(self, kind: str, **fields: Any) -> None:
        self.append(self.events_file, {"event": kind, **fields})

    def stats(self) -> list[dict[str, Any]]:
        return read_jsonl(self.stats_file)

    def events(self) -> list[dict[str, Any]]:
        return read_jsonl(self.events_file)

    @property
    def evals_file(self) -> Path:
        return self.path / "evals.jsonl"

    def truncate_logs(self, step: int) -> None:
        """Drop stats and evaluation rows logged after `step`: they belong to work lost when a
        run died after its last checkpoint, and the resumed run logs those steps again."""
        for file in (self.stats_file, self.evals_file):
            if file.is_file():
                rows = [r for r in read_jsonl(file) if r.get("step", 0) <= step]
                atomic_write(file, "".join(json.dumps(r) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line from a killed process; the rest is intact
    return rows


def create_run_dir(out: str | Path, name: str) -> RunDir:
    """Make `out/NNNN-name` with the next free number; never reuses a directory or a number."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    with _exclusive(root / ".lock"):  # runs started at the same moment must not share a number
        taken = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d{4,})-", p.name))]
        path = root / f"{max(taken, default=0) + 1:04d}-{safe}"
        path.mkdir()
    return run_dir_at(path)


def run_dir_at(path: Path) -> RunDir:
    """A run directory at a chosen path (a study's trial), made with its sub-folders if new."""
    run = RunDir(Path(path))
    for sub in (run.samples, run.plots, run.checkpoints):
        sub.mkdir(parents=True, exist_ok=True)
    return run


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    with open(lock_path, "a") as f:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; numbering is then best effort
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


STUDY_FILE = "study.json"  # what marks a study directory (studies/sweep.py writes it)


def open_run_dir(path: str | Path) -> RunDir:
    run = RunDir(Path(path))
    if not run.config_file.is_file():
        if (run.path / STUDY_FILE).is_file():
            trials = sorted(p for p in (run.path / "trials").glob("*") if (p / "config.json").is_file())
            example = f" (e.g. {trials[0]})" if trials else ""
            raise GankitError(f"{path}: is a study directory, not a run directory; give one of its trials "
                              f"under {run.path / 'trials'}{example}, or `gankit report {path}` for the study")
        raise GankitError(f"{path}: not a gankit run directory (no config.json)")
    return run


# ---------------------------------------------------------------------------------------
# rebuilding models from a checkpoint alone


@dataclass
class LoadedRun:
    run: RunDir
    cfg: Config
    G: nn.Module  # the generator to sample from (the EMA one when the run kept it)
    D: nn.Module
    step: int
    state: dict[str, Any]  # the whole checkpoint (optimiser states etc.)
    class_names: list[str]
    prior: torch.Tensor  # the training label prior (sampling.label_prior)


def checkpoint_prior(state: dict[str, Any], num_classes: int) -> torch.Tensor:
    """The label prior stored in a checkpoint; uniform for checkpoints older than the prior."""
    prior = state.get("label_prior")
    return prior.double() if prior is not None else uniform_prior(num_classes)


def checked_fields(state: dict[str, Any], ckpt: Path) -> tuple[Config, tuple[int, int, int], list[str]]:
    """(config, image shape, class names) of a loaded checkpoint, every field load_run reads checked
    first: a damaged or forged checkpoint is one GankitError, not a KeyError or a model builder's crash."""
    from .models import MODELS

    def bad(what: str) -> GankitError:
        return GankitError(f"{ckpt}: {what}; the checkpoint is damaged or not a gankit training checkpoint, "
                           "use another one or retrain")

    missing = [k for k in ("config", "img_shape", "class_names", "step", "G", "D") if k not in state]
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
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(v) is int and 1 <= v <= 1 << 16 for v in shape)):
        raise bad(f"its img_shape {str(shape)[:60]} is not [channels, height, width]")
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
    if prior is not None and not (isinstance(prior, torch.Tensor) and tuple(prior.shape) == (max(len(names), 1),)):
        raise bad("its label_prior is not one probability per class")
    return cfg, (shape[0], shape[1], shape[2]), list(names)


def load_run(path: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> LoadedRun:
    from .models import build_models

    run = open_run_dir(path)
    ckpt = Path(checkpoint) if checkpoint else run.last_checkpoint
    if not ckpt.is_file():
        raise GankitError(f"{path}: no checkpoint yet at {ckpt}; train longer or pass --checkpoint")
    state = load_state(ckpt)
    cfg, shape, class_names = checked_fields(state, ckpt)
    num_classes = max(len(class_names), 1)
    try:
        G, D = build_models(cfg.model, shape, num_classes)
    except (RuntimeError, ValueError, TypeError, OverflowError, ZeroDivisionError, MemoryError) as e:
        raise GankitError(f"{ckpt}: cannot build the model its config describes ({type(e).__name__}: "
                          f"{e}); the checkpoint is damaged or forged, use another one or retrain") from None
    load_weights(G, state["G_ema"] if state.get("G_ema") else state["G"], "G", ckpt)
    load_weights(D, state["D"], "D", ckpt)
    G.to(device).eval()
    D.to(device).eval()
    return LoadedRun(run, cfg, G, D, int(state["step"]), state, class_names, checkpoint_prior(state, num_classes))


def check_resumable(run: RunDir, cfg: Config) -> None:
    """Before a resume writes anything: the run's last checkpoint is one this gankit reads, and
    its G and D fit the models `cfg` builds (shapes from the file's header alone)."""
    from .models import build_models

    ckpt = run.last_checkpoint
    state = peek_state(ckpt)
    try:  # a damaged or forged header: one line, like load_run's checked_fields
        shape, classes = tuple(int(v) for v in state["img_shape"]), max(len(state["class_names"]), 1)
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
