"""train.track=mlflow in a sweep: one MLflow run per trial, under one experiment named after the
study, each with the study's metric among its final scores (an SQLite tracking store)."""

from __future__ import annotations

import pytest

pytest.importorskip("mlflow")


def test_a_sweep_gives_one_mlflow_run_per_trial_under_the_studys_experiment(tmp_path, fashion, capsys):
    from mlflow.tracking import MlflowClient
    from study_helpers import tiny_study

    from gankit.studies import sweep

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    study = tiny_study("tracked", set={"data.limit": 64, "train.epochs": 1, "train.batch_size": 32,
                                       "model.g_width": 8, "model.d_width": 8, "train.tensorboard": False,
                                       "loss.name": "ns", "train.track": "mlflow", "train.track_uri": uri})
    sweep(study, out=str(tmp_path / "s"), progress=False)
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tracked")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(p.name for p in (tmp_path / "s" / "trials").iterdir())
    assert all("final_fid" in r.data.metrics for r in runs)
    # the artifacts beside the database, not in whatever folder the sweep ran from
    assert all(r.info.artifact_uri.startswith((tmp_path / "artifacts").as_uri()) for r in runs)
