"""A study in Optuna's own dashboard: the real `optuna-dashboard` server, started here on
127.0.0.1 over the study's SQLite file, lists the study, every finished trial with its value
(the study's metric, named as the objective) and the user attributes that lead back to the run
(run directory, setting, seed); the study page gives the command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gankit.studies import load_results
from tests.server_helpers import free_port, wait_until_up

pytest.importorskip("optuna_dashboard")


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def dashboard(finished_study, tmp_path):
    study_dir = tmp_path / "s"
    shutil.copytree(finished_study, study_dir)  # the shared study stays read-only
    port = free_port()
    exe = Path(sys.executable).parent / "optuna-dashboard"
    proc = subprocess.Popen([str(exe), f"sqlite:///{study_dir / 'study.db'}", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/api/studies", proc)
        yield base, study_dir
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_dashboard_lists_the_study_its_trials_values_and_attributes(dashboard):
    base, study_dir = dashboard
    res = load_results(study_dir)
    studies = _get(base + "/api/studies")["study_summaries"]
    assert len(studies) == 1
    summary = studies[0]
    detail = _get(f"{base}/api/studies/{summary['study_id']}")
    assert summary["study_name"] == res.study["name"] and detail["objective_names"] == [res.metric]
    assert detail["directions"] == ["minimize"]  # fid: lower is better
    finished = [t for t in detail["trials"] if t["state"] == "Complete"]
    ours = {t.name: t for t in res.trials if t.value is not None}
    assert len(finished) == len(ours) == 4  # two settings x two seeds
    for t in finished:
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        trial = ours[Path(attrs["run"]).name]
        assert [float(v) for v in t["values"]] == [pytest.approx(trial.value)]
        assert Path(attrs["run_dir"]).name == trial.name and attrs["label"] == trial.label
        assert int(attrs["seed"]) == trial.seed


def test_the_study_page_gives_the_dashboard_command(finished_study):
    from gankit.studies.report import build_study_report

    page = build_study_report(load_results(finished_study))
    assert f"<code>optuna-dashboard sqlite:///{(finished_study / 'study.db').resolve()}</code>" in page
