"""A run directory mirrored into MLflow (`train.track=mlflow`): the tracker a team already shares.

The run directory stays the record; MLflow gets a copy, kept up to date by `sync(run)`, a
function of the run directory and a cursor in RUN/tracking.json (the MLflow run's id, the last
stats step, the number of events sent, each artifact's size and time as sent).  The loop calls
it once per epoch, `start_run` after training and `gankit evaluate` after writing metrics.json,
so each call sends only what is new:

    params     the resolved config (dotted keys), once
    metrics    every stats.jsonl row's numbers at its step; metrics.json's numbers (final_*)
    tags       the run directory's path, the preset, each event ("event.0007" = its JSON)
    artifacts  samples/, plots/, report.html, metrics.json, config.json at each end, each file
               again only when it changed (an evaluation after training: the report and metrics)

A sweep's trials go to one experiment named after the study.  MLflow is optional
(`pip install gankit[mlflow]`); an unreachable tracking server refuses the run before its
directory exists unless `train.track_required=false`, and a server that goes away mid-run costs
a warning, never the run: the next sync sends what was missed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
import urllib.request
import warnings
from pathlib import Path

from gankit.config import Config, dotted
from gankit.errors import GankitError, GankitWarning
from gankit.runs.layout import RunDir
from gankit.util.atomic import atomic_write
from gankit.util.jsonfile import DamagedFile, check_fields, read_object
from gankit.util.names import has_credentials, redact

TRACKERS = ("none", "mlflow")  # train.track's choices
DEFAULT_EXPERIMENT = "gankit"
# the stores MLflow's client opens by URI scheme, and the driver each database store imports
SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")
DRIVERS = {"postgresql": ("psycopg2", "psycopg", "psycopg2-binary"), "mysql": ("pymysql", "MySQLdb", "pymysql"),
           "mssql": ("pyodbc", "pyodbc", "pyodbc")}


def uri_problem(uri: str) -> str | None:
    """Why train.track_uri cannot be used as written (one sentence, the password never in it), or None.
    Credentials are refused: the URI is part of the config, which config.json, every checkpoint, the
    report and MLflow's params all record."""
    shown = redact(uri)
    if has_credentials(uri):
        return (f"train.track_uri={shown} carries credentials, which the run would record in config.json, every "
                "checkpoint, the report and MLflow's params; give the URI without them and put them in "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, which MLflow reads")
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    if scheme not in SCHEMES:
        what = f"has the scheme {scheme}://, which MLflow has no store for" if scheme else "is not a URI"
        return (f"train.track_uri={shown} {what}; use http(s)://HOST:PORT for a tracking server or "
                "sqlite:///PATH/mlflow.db for a local database (\"\" = mlruns/mlflow.db here)")
    return None


def local_store() -> Path:
    """Where train.track_uri="" keeps runs: mlruns/ beside where gankit runs, an SQLite database
    and the artifacts (MLflow 3.17 refuses its plain-folder file store unless told otherwise)."""
    return Path.cwd() / "mlruns"


def tracking_uri(cfg: Config) -> str:
    """train.track_uri, or the local store's SQLite database."""
    return cfg.train.track_uri or f"sqlite:///{local_store() / 'mlflow.db'}"


def _client(uri: str):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise GankitError("train.track=mlflow needs MLflow: pip install 'gankit[mlflow]' (or set train.track=none)") \
            from None
    return MlflowClient(tracking_uri=uri)


def check_reachable(cfg: Config) -> str | None:
    """Why the tracking server cannot be used now (one sentence), or None.  HTTP servers are
    asked for /health with a 5 s timeout: MLflow's own client retries for minutes."""
    if cfg.train.track != "mlflow":
        return None
    uri = tracking_uri(cfg)
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme in DRIVERS and not any(importlib.util.find_spec(m) for m in DRIVERS[scheme][:2]):
        return (f"train.track_uri={redact(uri)}: a {scheme} store needs its database driver, which is not installed "
                f"(pip install {DRIVERS[scheme][2]})")
    _client(uri)  # the import, and its one-line error
    return _down(uri)


def _down(uri: str) -> str | None:
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as r:
                r.read()
        except OSError as e:
            return f"train.track_uri={redact(uri)}: the MLflow server does not answer ({getattr(e, 'reason', e)})"
    return None


def _numbers(row: dict) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v) and k != "step"}


def sync(run: RunDir, cfg: Config, final: bool = False) -> None:
    """Send what the run directory has and MLflow has not; `final` also (re)sends the artifacts
    and ends the MLflow run.  Errors become one warning: tracking never stops a run."""
    if cfg.train.track != "mlflow":
        return
    try:
        _sync(run, cfg, final)
    except GankitError:
        raise
    except Exception as e:  # the server went away, a full disk on its side, ...: the run goes on
        if run.path in _warned:  # once per run and process, not once per epoch
            return
        _warned.add(run.path)
        first = (str(e).splitlines() or [type(e).__name__])[0][:160]
        message = f"MLflow tracking ({tracking_uri(cfg)}) failed: {first}; the run goes on, its directory keeps " \
                  "everything and a later sync (each epoch, the end, `gankit evaluate`) sends what was missed"
        warnings.warn(GankitWarning(message), stacklevel=2)


_warned: set[Path] = set()


def _artifacts(uri: str) -> str | None:
    """A new experiment's artifact folder: beside an SQLite database (MLflow's own default is
    ./mlruns in whatever folder gankit runs from); the server's choice for a server."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).parent / "artifacts").as_uri()
    return None


def _artifact_files(run: RunDir) -> list[tuple[Path, str | None]]:
    """(file, artifact folder) for what a run's end sends: its grids, plots, report, metrics, config."""
    files = [(f, folder.name) for folder in (run.samples, run.path / "plots") if folder.is_dir()
             for f in sorted(folder.iterdir()) if f.is_file()]
    return files + [(f, None) for f in (run.report_file, run.metrics_file, run.config_file) if f.is_file()]


def read_cursor(run: RunDir) -> dict:
    """tracking.json ({} before the first sync): the MLflow run's id and how far it was sent, or one
    line when it is damaged (never rewritten unread: a new cursor would create a second MLflow run)."""
    if not run.tracking_file.is_file():
        return {}
    fix = ("restore it, or delete it to send the whole run again as a new MLflow run (gankit changed "
           "nothing)")
    cursor = read_object(run.tracking_file, fix)
    check_fields(cursor, {"run_id": str, "last_step": int, "events": int}, run.tracking_file, fix)
    missing = [k for k in ("run_id", "last_step", "events") if cursor.get(k) is None]
    if missing:
        raise DamagedFile(f"{run.tracking_file}: has no {', '.join(missing)}; {fix}")
    return cursor


def rewind(run: RunDir, step: int) -> None:
    """A resume dropped the rows after `step`: send the retrained ones again from there."""
    if run.tracking_file.is_file():
        cursor = read_cursor(run)
        cursor["last_step"] = min(cursor.get("last_step", -1), step)
        atomic_write(run.tracking_file, json.dumps(cursor) + "\n")


def _sync(run: RunDir, cfg: Config, final: bool) -> None:
    from mlflow.entities import Metric, Param, RunTag

    if not cfg.train.track_uri:
        local_store().mkdir(exist_ok=True)
    uri = tracking_uri(cfg)
    down = _down(uri)  # a 5 s question, where MLflow's client would retry for minutes
    if down:
        raise ConnectionError(down)
    client = _client(uri)
    cursor = read_cursor(run)
    if "run_id" not in cursor:
        name = cfg.train.track_experiment or DEFAULT_EXPERIMENT
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp else client.create_experiment(name, artifact_location=_artifacts(uri))
        mrun = client.create_run(exp_id, run_name=run.path.name,
                                 tags={"gankit.run_dir": str(run.path.resolve()), "gankit.preset": str(cfg.preset)})
        params = [Param(k, json.dumps(v) if isinstance(v, (list, dict)) else str(v))
                  for k, v in dotted(cfg).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(mrun.info.run_id, params=params[i:i + 100])
        cursor = {"run_id": mrun.info.run_id, "last_step": -1, "events": 0}
    run_id = cursor["run_id"]
    now = int(time.time() * 1000)
    rows = run.stats()
    metrics = [Metric(k, v, now, int(row["step"])) for row in rows
               if int(row.get("step", -1)) > cursor["last_step"] for k, v in _numbers(row).items()]
    for i in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics per batch
        client.log_batch(run_id, metrics=metrics[i:i + 1000])
    cursor["last_step"] = max([cursor["last_step"]] + [int(r.get("step", -1)) for r in rows])
    events = run.events()
    tags = [RunTag(f"event.{i:04d}", json.dumps(e)[:5000]) for i, e in enumerate(events) if i >= cursor["events"]]
    if tags:
        client.log_batch(run_id, tags=tags)
    cursor["events"] = len(events)
    if final:
        if run.metrics_file.is_file():
            step = int(run.read_metrics().get("step", cursor["last_step"]))
            client.log_batch(run_id, metrics=[Metric(f"final_{k}", v, now, step)
                                              for k, v in _numbers(run.read_metrics()).items()])
        # only what changed since the last end (an evaluation after training rewrites the report
        # and metrics.json, not the grids)
        sent = cursor.setdefault("artifacts", {})
        for f, where in _artifact_files(run):
            st = f.stat()
            key, stamp = str(f.relative_to(run.path)), [st.st_size, st.st_mtime_ns]
            if sent.get(key) != stamp:
                client.log_artifact(run_id, str(f), where)
                sent[key] = stamp
        client.set_terminated(run_id)
    atomic_write(run.tracking_file, json.dumps(cursor) + "\n")
