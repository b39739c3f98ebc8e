"""train.track=mlflow against real MLflow: a `mlflow server` started here on 127.0.0.1 and the
file store.  The run, its params, a metric's history by step, events as tags, artifacts and the
final scores are read back through MLflow's own client; a sweep gives one MLflow run per trial
under the study's experiment (tests/studies/test_sweep_tracking.py); an unreachable server refuses the run before its directory exists
unless train.track_required=false; a resume sends the retrained rows again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gankit.cli import main
from tests.server_helpers import free_port, wait_until_up

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

TINY = ["data.limit=64", "model.g_width=8", "model.d_width=8", "train.batch_size=32", "train.epochs=2",
        "train.log_every=1", "train.progress=false", "train.tensorboard=false", "train.track=mlflow"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    exe = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen([str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                             "--artifacts-destination", str(root / "artifacts")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(uri + "/health", proc)
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _train(tmp_path, fashion_dir, uri, *extra):
    args = ["train", "--out", str(tmp_path / "runs"), "--data-dir", str(fashion_dir)]
    for s in TINY + [f"train.track_uri={uri}", *extra]:
        args += ["--set", s]
    return main(args)


def _run_dir(tmp_path):
    return next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())


def _check_mirrored(client, run_dir: Path, experiment: str = "gankit"):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    r = runs[0]
    assert r.info.run_name == run_dir.name and r.info.status == "FINISHED"
    assert r.data.tags["gankit.run_dir"] == str(run_dir.resolve())
    assert r.data.params["train.batch_size"] == "32" and r.data.params["model.g_width"] == "8"
    history = client.get_metric_history(r.info.run_id, "d_loss")
    import json

    rows = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert [m.step for m in history] == [row["step"] for row in rows]  # every row, at its step
    assert [m.value for m in history] == pytest.approx([row["d_loss"] for row in rows])
    events = [k for k in r.data.tags if k.startswith("event.")]
    assert events and any("samples" in r.data.tags[k] for k in events)
    artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"samples", "report.html", "config.json"} <= artifacts
    return r


def test_a_run_is_mirrored_into_an_mlflow_server(server, tmp_path, fashion_dir, shared_cache, capsys, monkeypatch):
    assert _train(tmp_path, fashion_dir, server) == 0
    run_dir = _run_dir(tmp_path)
    client = MlflowClient(tracking_uri=server)
    r = _check_mirrored(client, run_dir)
    # `gankit evaluate` sends its scores (and the new report) to the same MLflow run, and of the
    # artifacts only what it changed: the grids went at the end of training
    sent = []
    real_log_artifact = MlflowClient.log_artifact
    monkeypatch.setattr(MlflowClient, "log_artifact",
                        lambda self, run_id, path, where=None: sent.append(Path(path).name)
                        or real_log_artifact(self, run_id, path, where))
    assert main(["evaluate", str(run_dir), "--n", "200", "--data-dir", str(fashion_dir)]) == 0
    scores = client.get_run(r.info.run_id).data.metrics
    assert "final_fid" in scores and scores["final_fid"] > 0
    assert "metrics.json" in {a.path for a in client.list_artifacts(r.info.run_id)}
    assert "metrics.json" in sent and "report.html" in sent
    assert not [name for name in sent if name.endswith(".png") and name.startswith("fixed_")]
    capsys.readouterr()


def test_the_local_store_by_default_and_a_resume_resends_the_retrained_rows(tmp_path, fashion_dir, capsys,
                                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)  # train.track_uri="": ./mlruns/mlflow.db and ./mlruns/artifacts
    args = ["train", "--out", str(tmp_path / "runs"), "--data-dir", str(fashion_dir)]
    for s in [x for x in TINY if x != "train.epochs=2"] + ["train.epochs=1"]:
        args += ["--set", s]
    assert main(args) == 0
    run_dir = _run_dir(tmp_path)
    assert main(["train", "--resume", str(run_dir), "--epochs", "2"]) == 0
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    _check_mirrored(client, run_dir)
    assert any((tmp_path / "mlruns" / "artifacts").rglob("report.html"))
    capsys.readouterr()


@pytest.mark.parametrize("required", [True, False])
def test_an_unreachable_server_refuses_before_the_run_directory_or_warns(tmp_path, fashion_dir, capsys, required):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code = _train(tmp_path, fashion_dir, uri, f"train.track_required={str(required).lower()}")
    err = capsys.readouterr().err
    assert f"train.track_uri={uri}: the MLflow server does not answer" in err
    if required:
        assert code == 2 and len(err.strip().splitlines()) == 1 and "track_required=false" in err
        assert not (tmp_path / "runs").exists() or not any(p.is_dir() for p in (tmp_path / "runs").iterdir())
    else:
        assert code == 0 and (_run_dir(tmp_path) / "checkpoints" / "last.safetensors").is_file()


@pytest.mark.parametrize("uri, says", [
    ("http://bob:s3cret@127.0.0.1:5000", "train.track_uri=http://bob:***@127.0.0.1:5000 carries credentials, which the "
     "run would record in config.json, every checkpoint, the report and MLflow's params; give the URI without them "
     "and put them in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, which MLflow reads"),
    ("ftp://host/x", "train.track_uri=ftp://host/x has the scheme ftp://, which MLflow has no store for; use "
     "http(s)://HOST:PORT for a tracking server or sqlite:///PATH/mlflow.db for a local database (\"\" = "
     "mlruns/mlflow.db here)"),
    ("/tmp/a-file.db", "train.track_uri=/tmp/a-file.db is not a URI; use http(s)://HOST:PORT for a tracking server or "
     "sqlite:///PATH/mlflow.db for a local database (\"\" = mlruns/mlflow.db here)"),
])
@pytest.mark.parametrize("track", ["mlflow", "none"])
def test_a_tracking_uri_with_credentials_or_no_store_is_refused_and_never_shown(uri, says, track, tmp_path, capsys,
                                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dry-run", "--set", f"train.track={track}", "--set", f"train.track_uri={uri}"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"gankit: error: invalid config: {says}"] and "s3cret" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_database_store_without_its_driver_is_one_line_before_the_run_directory(tmp_path, fashion_dir, capsys):
    code = _train(tmp_path, fashion_dir, "mysql://tracker/db")
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines() == [
        "gankit: error: train.track_uri=mysql://tracker/db: a mysql store needs its database driver, which is not "
        "installed (pip install pymysql); start it, fix train.track_uri, or set train.track_required=false to train "
        "without it (nothing was written)"]
    assert not (tmp_path / "runs").exists() or not any(p.is_dir() for p in (tmp_path / "runs").iterdir())
