"""`gankit sweep`: run a study into a study directory, with one or more workers.

    studies/mnist-losses/
      study.json          the study as run (axes, budget, --set), and where its storage is
      study.db            the Optuna storage (SQLite; absent with --storage URL)
      executions.jsonl    one row each time a worker starts (or resumes) a trial
      trials/0003-loss-hinge-lr-0.0001-r0/   one ordinary run directory per trial,
                          plus trial.json (setting, seed, metric value, time)
      workers/            logs of the local worker processes (--workers N)
      report.html, summary.md, plots/, gifs/    written by `gankit report STUDY_DIR`

Every trial directory is a run directory: `generate`, `evaluate`, `report` and `--resume`
work on it.  Re-running the same sweep resumes: finished trials are skipped and a trial
that was interrupted or killed continues from its checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from gankit.errors import GankitError
from gankit.runs.layout import STUDY_FIX, RunDir, StudyDir, read_object, run_dir_at
from gankit.studies.runner import Claimed, StudyDB, expected_trials, open_study, storage_name, work
from gankit.util.names import redact
from gankit.studies.spec import Study
from gankit.util.atomic import atomic_write
from gankit.util.names import slug
from gankit.util.paths import writable_dir


def trial_dir_name(claimed: Claimed, label: str) -> str:
    name = slug(label, keep="_.").strip("-")[:80] or "base"
    return f"{claimed.origin:04d}-{name}-r{claimed.repeat}"


class TrialRunner:
    """Trains and evaluates one claimed trial into its run directory; returns its record."""

    def __init__(self, study: Study, study_dir: Path, data_dir: str | None, threads: int):
        self.study, self.study_dir, self.data_dir, self.threads = study, study_dir, data_dir, threads
        self._data: dict[str, Any] = {}  # datasets by their data config: loaded once per worker

    def __call__(self, claimed: Claimed) -> dict[str, Any]:
        from gankit.commands.evaluate import evaluate_run
        from gankit.data import load_dataset
        from gankit.launch.start import start_run

        s = self.study
        cfg = s.config(claimed.params, claimed.repeat)
        cfg.train.progress = False  # the study shows its own progress
        if cfg.train.track != "none" and not cfg.train.track_experiment:  # one MLflow experiment per study
            cfg.train.track_experiment = s.name
        if self.threads:
            cfg.train.threads = self.threads
        label = s.label(claimed.params)
        path = StudyDir(self.study_dir).trials / trial_dir_name(claimed, label)
        run = RunDir(path)
        record = {"number": claimed.trial.number, "origin": claimed.origin, "label": label, "params": claimed.params,
                  "repeat": claimed.repeat, "seed": cfg.train.seed, "metric": s.metric,
                  "run": str(path.relative_to(self.study_dir)), "run_dir": str(path.resolve())}
        resumed = run.last_checkpoint.is_file()
        with open(StudyDir(self.study_dir).executions, "a") as f:
            f.write(json.dumps({"trial": claimed.trial.number, "run": record["run"], "resumed": resumed,
                                "pid": os.getpid(), "time": round(time.time(), 1)}) + "\n")
        t0 = time.perf_counter()
        try:  # a GankitError fails this trial only; the study goes on
            key = json.dumps(cfg.data.__dict__, sort_keys=True)
            if key not in self._data:
                self._data[key] = load_dataset(cfg.data, self.data_dir)
            # the same pre-flight, run directory and config.json as `gankit train`
            _, summary = start_run(cfg, at=path, resume=resumed, data=self._data[key], data_dir=self.data_dir,
                                   announce=False)
            if summary["interrupted"]:
                return {**record, "interrupted": True}
            evaluate_run(str(path), n=s.eval_n, data_dir=self.data_dir)
            metrics = run.read_metrics()
            record.update(value=float(metrics[s.metric]), step=summary["step"], train_seconds=summary["seconds"])
        except GankitError as e:
            record["error"] = " ".join(str(e).split())
        except Exception as e:  # a bug fails this trial (recorded, traceback in its error.log); the study goes on
            record["error"] = " ".join(f"internal error, a bug in gankit: {type(e).__name__}: {e}".split())
        record.update(seconds=round(time.perf_counter() - t0, 1), finished=round(time.time(), 1))
        run_dir_at(path)  # made even for a trial that failed before training: its trial.json says why
        atomic_write(run.trial_file, json.dumps(record, indent=2) + "\n")
        return record


class Progress:
    """One line per finished trial (its metric and the running best) under a study-level bar."""

    def __init__(self, study: Study, total: int, done: int, bar: bool):
        self.study, self.total, self.n = study, total, done
        self.best: tuple[float, str] | None = None
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc=f"study {study.name}", unit="trial", file=sys.stderr,
                            dynamic_ncols=True)

    def __call__(self, record: dict[str, Any]) -> None:
        self.n += 1
        name = f"{record['label']} (seed {record.get('seed', record.get('repeat'))})"
        if "value" in record:
            v = record["value"]
            better = self.best is None or (v > self.best[0] if self.study.maximise else v < self.best[0])
            if better:
                self.best = (v, name)
            line = (f"[{self.n}/{self.total}] {name}: {self.study.metric} {v:.4g} in {record.get('seconds', 0):.0f} s"
                    f" · best {self.best[0]:.4g} ({self.best[1]})")
        else:
            line = f"[{self.n}/{self.total}] {name}: failed: {record.get('error', 'unknown error')}"
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
            self.bar.update(1)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def prepare_dir(study: Study, out: str | None, storage: str | None) -> Path:
    """The study directory: made with study.json, or checked to hold this very study."""
    study_dir = writable_dir(out or Path("studies") / storage_name(study), "--out")
    wanted = {"study": study.to_dict(), "storage": redact(storage) if storage else "sqlite (study.db)"}
    existing = StudyDir(study_dir).study_file
    if existing.is_file():
        have = read_object(existing, STUDY_FIX)
        words = ("description", "published")
        if {k: v for k, v in (have.get("study") or {}).items() if k not in words} != study.experiment():
            raise GankitError(f"{study_dir} holds a different study (other axes, budget or --set); "
                              "give another --out, or the same study and options to resume it")
        if have.get("study") != wanted["study"]:  # the same experiment, its words corrected
            atomic_write(StudyDir(study_dir).study_file, json.dumps({**have, "study": wanted["study"]}, indent=2) + "\n")
    elif RunDir(study_dir).config_file.is_file():
        raise GankitError(f"--out {study_dir}: is a run directory, not a study directory; give a new folder "
                          "(default studies/STUDY) or an existing study directory to resume")
    elif study_dir.exists() and any(study_dir.iterdir()) and not existing.is_file():
        raise GankitError(f"{study_dir} exists and is not a study directory; give another --out")
    elif not _create_study_dir(study_dir, wanted):  # another worker made it first: check it as above
        return prepare_dir(study, out, storage)
    return study_dir


def _create_study_dir(study_dir: Path, wanted: dict) -> bool:
    """study.json and trials/ made in a sibling folder and renamed into place, so that workers
    started together see either no study directory or a whole one (never a folder without its
    study.json); False when another worker's landed first."""
    study_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = study_dir.parent / f".{study_dir.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    StudyDir(tmp).trials.mkdir(parents=True)  # mkdir, unlike mkdtemp, keeps the umask's permissions
    atomic_write(StudyDir(tmp).study_file, json.dumps(wanted, indent=2) + "\n")
    try:
        os.rename(tmp, study_dir)  # replaces an empty folder; fails on a non-empty one
        return True
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not StudyDir(study_dir).study_file.is_file():  # not a worker's: files of something else
            raise GankitError(f"{study_dir} exists and is not a study directory; give another --out") from None
        return False


def sweep(study: Study, out: str | None = None, storage: str | None = None, workers: int = 1,
          data_dir: str | None = None, threads: int = 0, progress: bool = True,
          worker_args: list[str] | None = None, heartbeat: tuple[float, float] | None = None) -> Path:
    """Run (or resume, or join) a study; returns the study directory.

    workers > 1 starts that many `gankit sweep ... --worker` processes (worker_args is the
    command line that names the same study) with the CPU threads split between them.
    """
    fresh = not StudyDir(Path(out or Path("studies") / storage_name(study))).is_study()
    study_dir = prepare_dir(study, out, storage)
    hb = heartbeat or _heartbeat_from_env()
    try:
        db = StudyDB(study_dir, storage, *hb)
        ost = open_study(db, study)
    except BaseException:
        if fresh:  # a storage that cannot be opened leaves nothing of the study it could not start
            _remove_fresh(StudyDir(study_dir))
        raise
    total = expected_trials(study)
    show = Progress(study, total, len(finished_trials(ost)), bar=progress)
    try:
        if workers <= 1:
            work(db, ost, study, TrialRunner(study, study_dir, data_dir, threads), show)
        else:
            _run_workers(study_dir, ost, workers, worker_args or [], show)
    finally:
        show.close()
    return study_dir


def _remove_fresh(study: StudyDir) -> None:
    for file in (study.study_file, study.db, study.db_lock):
        file.unlink(missing_ok=True)
    for folder in (study.trials, study.path):
        with contextlib.suppress(OSError):  # only if empty: nothing of the user's goes
            folder.rmdir()


def finished_trials(ost) -> list:
    """The trials that ran to an end (a result or an error): not the placeholders of a race, nor
    an interrupted trial (it is back in the queue as a new one)."""
    return [t for t in ost.get_trials(deepcopy=False)
            if t.state.is_finished() and not t.user_attrs.get("surplus") and not t.user_attrs.get("interrupted")
            and "run" in t.user_attrs]


def _heartbeat_from_env() -> tuple[float, float]:
    from gankit.studies.runner import GRACE_S, HEARTBEAT_S

    # GANKIT_SWEEP_HEARTBEAT="interval,grace" (seconds): how soon a killed worker's trial is retried
    text = os.environ.get("GANKIT_SWEEP_HEARTBEAT", "")
    if not text:
        return HEARTBEAT_S, GRACE_S
    a, _, b = text.partition(",")
    return float(a), float(b or 3 * float(a))


def _run_workers(study_dir: Path, ost, n: int, worker_args: list[str], show: Callable[[dict], None]) -> None:
    """Start n local worker processes on the same storage and report their trials as they finish."""
    threads = max(1, (os.cpu_count() or 1) // n)
    logs = StudyDir(study_dir).workers
    logs.mkdir(exist_ok=True)
    procs = []
    for i in range(n):
        cmd = [sys.executable, "-m", "gankit", "sweep", *worker_args, "--worker", "--threads", str(threads)]
        with open(logs / f"worker-{i}.log", "a") as log:
            # their own process group: a Ctrl-C reaches them once, forwarded below, never twice
            # (a second interrupt would stop a trial before it saves its checkpoint)
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    seen = {t.number for t in finished_trials(ost)}
    try:
        while True:
            alive = [p for p in procs if p.poll() is None]
            for t in finished_trials(ost):
                if t.number not in seen:
                    seen.add(t.number)
                    show({**t.user_attrs, "value": t.value} if t.value is not None else dict(t.user_attrs))
            if not alive:
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        for p in procs:
            p.send_signal(signal.SIGINT)  # each worker checkpoints its trial and puts it back in the queue
        for p in procs:
            p.wait()
        raise
    bad = [i for i, p in enumerate(procs) if p.returncode != 0]
    if bad:
        raise GankitError(f"worker(s) {bad} failed; see {logs}/worker-N.log")
