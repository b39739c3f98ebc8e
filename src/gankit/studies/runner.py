"""The Optuna side of a study: storage, planning, claiming trials, running one trial.

Trials are Optuna trials in an RDB storage: an SQLite file in the study directory by
default, or a shared PostgreSQL server (`--storage postgresql://...`) for workers on
several machines.

- Planning: grid and random settings (x repeats) are enqueued once, by the worker that
  creates the study (creation is atomic in the database, so exactly one does).  TPE asks
  its sampler for each new setting and enqueues that setting's other repeats.
- Claiming: `study.ask()` pops a waiting trial (a row update from WAITING to RUNNING, so
  two workers never get the same one).  SQLite cannot take row locks, so with SQLite
  every database call goes through one file lock.
- Crashes: a running trial records a heartbeat; a trial whose worker died (no heartbeat
  for `grace` seconds) is failed by the next worker that looks and re-queued with the same
  parameters; its retry resumes the same run directory from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gankit.errors import GankitError
from gankit.runs.layout import StudyDir
from gankit.studies.spec import Study
from gankit.util.names import redact

HEARTBEAT_S, GRACE_S = 10.0, 30.0


def _optuna():
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # we run Optuna's heartbeat ourselves (heartbeat() below) around ask/tell
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    return optuna


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock across processes and threads (each holder opens its own handle)."""
    import fcntl

    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class StudyDB:
    """The Optuna storage behind a study directory."""

    def __init__(self, study_dir: Path, url: str | None = None, heartbeat_s: float = HEARTBEAT_S,
                 grace_s: float = GRACE_S):
        optuna = _optuna()
        self.url = url or f"sqlite:///{StudyDir(study_dir).db.resolve()}"
        self.sqlite = self.url.startswith("sqlite")
        self.lock_file = StudyDir(study_dir).db_lock
        self.heartbeat_s = heartbeat_s
        from sqlalchemy import exc

        try:
            with self.lock():
                for attempt in range(6):
                    try:
                        self.storage = optuna.storages.RDBStorage(
                            with_driver(self.url), heartbeat_interval=int(max(1, heartbeat_s)),
                            grace_period=int(max(2, grace_s)),
                            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                                max_retry=3),
                            engine_kwargs={"connect_args": {"timeout": 60}} if self.sqlite else {"pool_pre_ping": True})
                        break
                    except (exc.IntegrityError, exc.ProgrammingError, optuna.exceptions.StorageInternalError):
                        # workers started together on an empty server database race to create
                        # Optuna's tables (SQLite's are made under the file lock); the loser's
                        # transaction is rolled back and it finds them made on a later try
                        if self.sqlite or attempt == 5:
                            raise
                        time.sleep(0.5 + random.random())
        except Exception as e:  # a bad URL, an unreachable server, a missing driver
            raise GankitError(f"--storage {redact(self.url)}: cannot open ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None

    def lock(self):
        return file_lock(self.lock_file) if self.sqlite else contextlib.nullcontext()


def with_driver(url: str) -> str:
    """`postgresql://` with the PostgreSQL driver that is installed: SQLAlchemy 2.1 means
    psycopg (3) by it, gankit's `postgres` extra installs psycopg2."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def open_study(db: StudyDB, study: Study, wait_s: float = 120.0):
    """Create the Optuna study and plan its trials, or join the one another worker made."""
    optuna = _optuna()
    direction = "maximize" if study.maximise else "minimize"
    sampler = (optuna.samplers.TPESampler(seed=study.seed) if study.search == "tpe"
               else optuna.samplers.RandomSampler(seed=study.seed))
    key = storage_name(study)
    spec = json.dumps(study.experiment(), sort_keys=True)
    with db.lock():
        try:
            ost = optuna.create_study(storage=db.storage, study_name=key, direction=direction, sampler=sampler)
        except optuna.exceptions.DuplicatedStudyError:
            ost = None
        if ost is not None:  # this worker made the study: it plans
            # seed by seed: a study stopped early holds whole tables of fewer seeds
            for r in range(study.repeats):
                for params in study.settings():
                    ost.enqueue_trial(params, user_attrs={"repeat": r})
            ost.set_metric_names([study.metric])  # optuna-dashboard labels the objective with it
            ost.set_user_attr("spec", spec)
            ost.set_user_attr("planned", len(study.settings()) * study.repeats)
            return ost
        ost = optuna.load_study(study_name=key, storage=db.storage, sampler=sampler)
    deadline = time.monotonic() + wait_s
    while "planned" not in ost.user_attrs:  # its creator is still enqueueing
        if time.monotonic() > deadline:
            raise GankitError(f"study {key} exists in the storage but was never planned; delete it or use another --out")
        time.sleep(0.5)
    if ost.user_attrs.get("spec") != spec:
        raise GankitError(f"the storage already holds a different study named {key} (other axes, budget or --set); "
                          "use the same study file and options, or another --storage / --out")
    return ost


def storage_name(study: Study) -> str:
    return study.name + ("-full" if study.full else "")


def expected_trials(study: Study) -> int:
    return (len(study.settings()) if study.search != "tpe" else study.trials) * study.repeats


# ---------------------------------------------------------------------------------------
# one worker


@dataclass
class Claimed:
    trial: Any  # optuna.Trial
    params: dict[str, Any]
    repeat: int
    origin: int  # the first trial number of a retry chain: names the run directory


def _frozen(ost, number: int):
    return next(t for t in ost.get_trials(deepcopy=False) if t.number == number)


def _suggest(trial, study: Study) -> dict[str, Any]:
    params = {}
    for a in study.axes:
        if a.kind == "range":
            params[a.name] = trial.suggest_float(a.name, a.low, a.high, log=a.log)
        else:
            params[a.name] = trial.suggest_categorical(a.name, list(a.choices))
    return params


def claim(db: StudyDB, ost, study: Study) -> tuple[Claimed | None, bool]:
    """The next trial for this worker, or (None, whether others are still running)."""
    optuna = _optuna()
    TS = optuna.trial.TrialState
    with db.lock():
        optuna.storages.fail_stale_trials(ost)  # dead workers' trials go back to the queue
        trials = ost.get_trials(deepcopy=False)
        waiting = any(t.state == TS.WAITING for t in trials)
        sampled = sum(1 for t in trials if t.user_attrs.get("sampled") and "failed_trial" not in t.system_attrs)
        may_sample = study.search == "tpe" and sampled < study.trials
        if not waiting and not may_sample:
            return None, any(t.state == TS.RUNNING for t in trials)
        trial = ost.ask()
        frozen = _frozen(ost, trial.number)
        if "fixed_params" not in frozen.system_attrs and not may_sample:
            # another worker took the last queued trial between our look and our ask
            trial.set_user_attr("surplus", True)
            ost.tell(trial, state=TS.PRUNED)
            return None, True
        params = _suggest(trial, study)
        if "fixed_params" not in frozen.system_attrs:  # a new TPE setting: queue its other seeds
            trial.set_user_attr("repeat", 0)
            trial.set_user_attr("sampled", True)
            for r in range(1, study.repeats):
                ost.enqueue_trial(params, user_attrs={"repeat": r})
        repeat = int(frozen.user_attrs.get("repeat", 0))
        trial.set_user_attr("label", study.label(params))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        db.storage.record_heartbeat(trial._trial_id)  # Optuna's own runner does this too
    return Claimed(trial, params, repeat, frozen.system_attrs.get("failed_trial", trial.number)), True


@contextlib.contextmanager
def heartbeat(db: StudyDB, trial):
    """Record a heartbeat every few seconds while the trial runs, so a dead worker is noticed."""
    stop = threading.Event()

    def beat():
        while not stop.wait(db.heartbeat_s):
            with db.lock():
                db.storage.record_heartbeat(trial._trial_id)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def work(db: StudyDB, ost, study: Study, run_trial: Callable[[Claimed], dict], on_done: Callable[[dict], None],
         poll_s: float = 2.0) -> int:
    """Claim and run trials until none is left; returns how many this worker finished.

    `run_trial` trains and evaluates one trial and returns its record (with "value", or
    "error" for a trial that failed, or "interrupted").  Waits while other workers still
    run trials, since a dead one's trial comes back to the queue after the grace period.
    """
    optuna = _optuna()
    TS = optuna.trial.TrialState
    done = 0
    while True:
        claimed, others = claim(db, ost, study)
        if claimed is None:
            if not others:
                return done
            time.sleep(poll_s)
            continue
        with heartbeat(db, claimed.trial):
            record = run_trial(claimed)
        with db.lock():
            # what optuna-dashboard shows beside each trial: its run directory, setting, seed
            for k in ("run", "run_dir", "seed", "seconds", "step", "error"):
                if k in record:
                    claimed.trial.set_user_attr(k, record[k])
            if record.get("interrupted"):
                # back into the queue at once: re-running the sweep resumes this trial's checkpoint;
                # marked, so nobody counts or reports it as a trial that failed
                claimed.trial.set_user_attr("interrupted", True)
                ost.tell(claimed.trial, state=TS.FAIL)
                db.storage.get_heartbeat_stale_trial_callback()(ost, _frozen(ost, claimed.trial.number))
            elif "error" in record:
                ost.tell(claimed.trial, state=TS.FAIL)
            else:
                ost.tell(claimed.trial, record["value"])
        if record.get("interrupted"):
            raise KeyboardInterrupt
        done += 1
        on_done(record)
