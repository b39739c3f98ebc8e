"""`gankit sweep --storage postgresql://...`: two worker processes share one study.

Needs a PostgreSQL server: GANKIT_TEST_POSTGRES=postgresql://user:password@host:port/db
(.ci/postgres.sh starts one and prints this URL).  Each test works in a database of its
own, made and dropped here (the role needs CREATEDB; without it the test uses the URL's
database with a study name of its own and deletes that study afterwards).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest

URL = os.environ.get("GANKIT_TEST_POSTGRES", "")
pytestmark = pytest.mark.skipif(not URL, reason="GANKIT_TEST_POSTGRES (a PostgreSQL URL) not set; "
                                "see .ci/postgres.sh")

LOSSES = ["bce", "ns", "hinge"]
REPEATS = 2


def study_toml(losses: list[str] = LOSSES, limit: int = 256) -> str:
    """A tiny grid study (TINY_SET's budget): len(losses) x REPEATS trials."""
    return f"""description = "two workers on PostgreSQL"
preset = "dcgan"
repeats = {REPEATS}
eval_n = 200
[set]
"data.limit" = {limit}
"train.epochs" = 2
"train.batch_size" = 64
"model.g_width" = 8
"model.d_width" = 8
"train.log_every" = 2
"train.tensorboard" = false
[axes]
"loss.name" = {json.dumps(losses)}
"""


@pytest.fixture
def pg_url():
    """A storage URL of this test's own: a fresh database, dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    from sqlalchemy.engine import make_url

    db = f"gankit_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(URL)
    except psycopg2.OperationalError as e:
        pytest.fail(f"GANKIT_TEST_POSTGRES is set but the server cannot be reached: {e}")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{db}"')
    except psycopg2.errors.InsufficientPrivilege:
        admin.close()
        yield URL  # shared database: the tests' unique study names keep them apart
        return
    try:
        yield make_url(URL).set(database=db).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')  # PostgreSQL >= 13
        admin.close()


@pytest.fixture
def study_file(tmp_path, pg_url):
    """A study file with a unique name (gankit names the Optuna study after the file's stem)."""
    name = f"pg-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.toml"
    path.write_text(study_toml())
    yield path
    if pg_url == URL:  # the shared database: remove this test's study
        import optuna

        try:
            optuna.delete_study(study_name=name, storage=optuna_url(pg_url))
        except KeyError:
            pass


def optuna_url(url: str) -> str:
    """The URL for Optuna itself: with the installed driver, as gankit does (SQLAlchemy 2.1
    takes `postgresql://` to mean psycopg 3, the `postgres` extra installs psycopg2)."""
    from gankit.studies.runner import with_driver

    return with_driver(url)


def sweep_cmd(file: Path, out: Path, url: str) -> list[str]:
    # --threads 1: two workers side by side on a small machine
    return [sys.executable, "-m", "gankit", "sweep", str(file), "--out", str(out), "--storage", url, "--threads", "1"]


def test_two_workers_run_every_trial_once(fashion, tmp_path, pg_url, study_file):
    import optuna

    out = tmp_path / "study"
    logs = [open(tmp_path / f"worker-{i}.log", "w+") for i in range(2)]
    # both at once: they race to create the schema and the study, and to claim trials
    procs = [subprocess.Popen(sweep_cmd(study_file, out, pg_url), stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ), cwd=tmp_path) for log in logs]
    try:
        for p in procs:
            # generous: each worker's first trial also computes the real data's reference
            # features into the fresh cache (minutes on a busy two-core machine)
            p.wait(timeout=600)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    texts = []
    for log in logs:
        log.seek(0)
        texts.append(log.read())
        log.close()
    for p, text in zip(procs, texts):
        assert p.returncode == 0, f"worker {p.pid} exited {p.returncode}:\n{text[-3000:]}"

    n = len(LOSSES) * REPEATS
    rows = [json.loads(line) for line in (out / "executions.jsonl").read_text().splitlines()]
    runs = [r["run"] for r in rows]
    assert len(runs) == len(set(runs)) == n, f"some trial ran twice or not at all: {sorted(runs)}"
    assert not any(r["resumed"] for r in rows)
    pids = {r["pid"] for r in rows}
    assert pids <= {p.pid for p in procs}
    # Which worker claims what is up to timing.  Each claims a trial as soon as it is up and
    # the first trial is slow (see above), so both normally work; but a worker that starts
    # late on a loaded machine may find nothing left, so two pids are only hoped for.  That
    # no trial ran twice, with two claimants racing, is what this test asserts.
    if len(pids) < 2:
        warnings.warn(f"one worker ran all {n} trials; the claim race was not exercised")
    for run in runs:
        assert (out / run / "trial.json").is_file()

    ost = optuna.load_study(study_name=study_file.stem, storage=optuna_url(pg_url))
    done = [t for t in ost.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == n
    pairs = {(json.dumps(t.params, sort_keys=True), t.user_attrs["repeat"]) for t in done}
    assert pairs == {(json.dumps({"loss.name": loss}), r) for loss in LOSSES for r in range(REPEATS)}
    assert {t.user_attrs["run"] for t in done} == set(runs)


def test_same_name_other_study_is_refused(fashion, tmp_path, pg_url, study_file):
    from gankit.studies import load_study
    from gankit.studies.runner import StudyDB, open_study

    # the study as some worker created and planned it (no training needed for this)
    first = tmp_path / "first"
    first.mkdir()
    open_study(StudyDB(first, pg_url), load_study(str(study_file)))
    # the same file name (so the same study name) with another budget
    study_file.write_text(study_toml(limit=128))
    # another --out: the study directory check would refuse first, with the same --out
    r = subprocess.run(sweep_cmd(study_file, tmp_path / "second", pg_url), capture_output=True, text=True,
                       env=dict(os.environ), cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("gankit: error:")]
    assert len(errors) == 1, r.stderr
    assert "different study" in errors[0] and study_file.stem in errors[0], errors[0]
    assert not (tmp_path / "second" / "executions.jsonl").exists()
