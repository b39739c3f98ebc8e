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
      metrics.json          written by `gankit evaluate` (+ cas, privacy: `evaluate --cas/--privacy`)
      trial.json            a study's trial: its settings and result
      report.html           written at the end of training and by `gankit report`

Run directories are numbered and never reused, so nothing is overwritten.  `RunDir` and
`StudyDir` own every file name in them: no other module spells one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gankit.config import Config
from gankit.errors import GankitError
from gankit.util.atomic import atomic_write
from gankit.util.jsonfile import NUMBER, read_jsonl, read_object
from gankit.util.names import slug

CHECK_KEYS = ("cas", "privacy")  # metrics.json keys of `evaluate --cas/--privacy`, beside the FID etc.
# what the readers of each log rely on in its rows (util/jsonfile.check_fields)
ROW_TYPES = {"step": NUMBER, "epoch": NUMBER, "time": NUMBER, "event": str}
LOG_FIX = ("the run's log is damaged: remove or repair that line, or restore the file from a backup "
           "(gankit changed nothing)")


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
    def walk_strip(self) -> Path:  # `generate --gif`: shown in the report
        return self.samples / "walk.png"

    @property
    def privacy_pairs(self) -> Path:  # `evaluate --privacy`: the closest pairs, shown in the report
        return self.samples / "privacy_pairs.png"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.safetensors"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.safetensors"

    @property
    def evals_file(self) -> Path:
        return self.path / "evals.jsonl"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.json"

    @property
    def report_file(self) -> Path:
        return self.path / "report.html"

    @property
    def tracking_file(self) -> Path:  # train.track: the MLflow run's id and what was sent (runs/tracking.py)
        return self.path / "tracking.json"

    @property
    def lock_file(self) -> Path:  # held (flock) by the process training the run; its pid inside
        return self.path / ".lock"

    @contextlib.contextmanager
    def training_lock(self):
        """Held while a process trains this run: a second `gankit train --resume` of it is one line
        naming the holder's pid.  The operating system drops the lock when the holder dies, so the
        file a kill -9 leaves behind is harmless."""
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks
            yield
            return
        with open(self.lock_file, "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "?"
                raise GankitError(f"{self.path}: process {holder} is training this run now; wait for it to finish "
                                  f"(or stop it: kill {holder}) before resuming it (nothing was changed)") from None
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @property
    def error_log(self) -> Path:  # the traceback of a bug that stopped the run
        return self.path / "error.log"

    @property
    def trial_file(self) -> Path:  # a study's trial: its settings and result (studies/sweep.py)
        return self.path / "trial.json"

    def read_config(self) -> dict[str, Any]:
        """config.json as a dict of settings, or one line saying it is damaged and what to do."""
        return read_object(self.config_file, "the run directory is damaged: restore config.json (every "
                                              "checkpoint holds a copy of it) or start a new run")

    def read_metrics(self) -> dict[str, Any]:
        """metrics.json as a dict; {} when absent; a damaged one is one line (never replaced unread)."""
        fix = f"delete it and run `gankit evaluate {self.path}` to score the run again (gankit changed nothing)"
        return read_object(self.metrics_file, fix) if self.metrics_file.is_file() else {}

    def merge_metrics(self, update: dict[str, Any], keep: tuple[str, ...] | None = None) -> Path:
        """The one way metrics.json is written: `update` over the file's keys (only those in `keep`,
        when given: `gankit evaluate` replaces its own figures but keeps the --cas/--privacy results)."""
        metrics = self.read_metrics()
        if keep is not None:
            metrics = {k: v for k, v in metrics.items() if k in keep}
        metrics.update(update)
        atomic_write(self.metrics_file, json.dumps(metrics, indent=2) + "\n")
        return self.metrics_file

    def write_config(self, cfg: Config) -> None:
        atomic_write(self.config_file, cfg.to_json() + "\n")

    def append(self, file: Path, row: dict[str, Any]) -> None:
        with open(file, "a") as f:
            f.write(json.dumps(row) + "\n")

    def log_event(self, kind: str, **fields: Any) -> None:
        self.append(self.events_file, {"event": kind, **fields})

    def stats(self) -> list[dict[str, Any]]:
        return read_jsonl(self.stats_file, LOG_FIX, ROW_TYPES)

    def events(self) -> list[dict[str, Any]]:
        return read_jsonl(self.events_file, LOG_FIX, ROW_TYPES)

    def evals(self) -> list[dict[str, Any]]:
        return read_jsonl(self.evals_file, LOG_FIX, ROW_TYPES)

    def check_logs(self) -> None:
        """Read every log once, so damage is one line before anything writes into the run (a resume)."""
        self.stats(), self.events(), self.evals()

    def truncate_logs(self, step: int) -> None:
        """Drop stats and evaluation rows logged after `step`: they belong to work lost when a
        run died after its last checkpoint, and the resumed run logs those steps again."""
        for file in (self.stats_file, self.evals_file):
            if file.is_file():
                rows = [r for r in read_jsonl(file, LOG_FIX, ROW_TYPES) if r.get("step", 0) <= step]
                atomic_write(file, "".join(json.dumps(r) + "\n" for r in rows))


def create_run_dir(out: str | Path, name: str) -> RunDir:
    """Make `out/NNNN-name` with the next free number; never reuses a directory or a number."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    safe = slug(name).strip("-") or "run"
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


STUDY_FIX = ("the study directory is damaged: restore study.json or start the study again in a new "
             "--out (its trials are ordinary run directories and stay usable)")


@dataclass(frozen=True)
class StudyDir:
    """A study directory: study.json (what marks it) and one run directory per trial."""

    path: Path

    @property
    def study_file(self) -> Path:
        return self.path / "study.json"

    @property
    def trials(self) -> Path:
        return self.path / "trials"

    @property
    def db(self) -> Path:  # the Optuna storage (SQLite; absent with --storage URL)
        return self.path / "study.db"

    @property
    def db_lock(self) -> Path:  # serialises SQLite's table creation between local workers
        return self.path / ".db.lock"

    @property
    def executions(self) -> Path:  # one row each time a worker starts (or resumes) a trial
        return self.path / "executions.jsonl"

    @property
    def workers(self) -> Path:  # logs of the local worker processes
        return self.path / "workers"

    def is_study(self) -> bool:
        return self.study_file.is_file()


def open_run_dir(path: str | Path) -> RunDir:
    run = RunDir(Path(path))
    if not run.config_file.is_file():
        study = StudyDir(run.path)
        if study.is_study():
            trials = sorted(p for p in study.trials.glob("*") if RunDir(p).config_file.is_file())
            example = f" (e.g. {trials[0]})" if trials else ""
            raise GankitError(f"{path}: is a study directory, not a run directory; give one of its trials "
                              f"under {study.trials}{example}, or `gankit report {path}` for the study")
        raise GankitError(f"{path}: not a gankit run directory (no config.json)")
    return run
