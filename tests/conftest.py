"""Shared fixtures: where the real datasets are, and an isolated gankit cache per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis (the fuzz tests, `pytest -k fuzz`): a few examples per property in the default
# suite, many under `make test-slow` (HYPOTHESIS_PROFILE=thorough).  No example database is
# kept (nothing written into the repository); the per-test fixtures here only set
# environment variables, so sharing them across a property's examples is safe.
_FUZZ = dict(deadline=None, database=None, print_blob=True,
             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                    HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("default", max_examples=25, **_FUZZ)
settings.register_profile("thorough", max_examples=1000, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# `gankit train` ends with a 10,000-sample evaluation (train.final_eval_n); the suite's hundreds of
# tiny runs skip it (their subprocesses inherit this), tests/commands/test_final_eval.py turns it on
os.environ["GANKIT_FINAL_EVAL"] = "off"

REPO = Path(__file__).resolve().parents[1]
# the project's datasets for tests live beside the repository (../shared/datasets)
SHARED = Path(os.environ.get("GANKIT_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))
FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real test datasets not present at {SHARED}")
    return SHARED


@pytest.fixture
def fashion_dir() -> Path:
    if not (FASHION_SYSTEM / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    return FASHION_SYSTEM


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # never read or write the user's real cache, never pick up their data dir
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    # nothing in the test suite may reach the internet: mirrors point at a closed local port
    for ds in ("FASHION_MNIST", "MNIST", "CIFAR10"):
        monkeypatch.setenv(f"GANKIT_MIRROR_{ds}", "http://127.0.0.1:9/")


@pytest.fixture(scope="session")
def reference_cache(tmp_path_factory) -> Path:
    """One gankit cache for the tests that evaluate full Fashion-MNIST runs (studies, the
    notebook, every module's tiny runs): the reference features of the 60,000 training images
    are computed once per session instead of once per test or module."""
    return tmp_path_factory.mktemp("reference-cache")


@pytest.fixture
def shared_cache(reference_cache, monkeypatch) -> Path:
    monkeypatch.setenv("GANKIT_CACHE", str(reference_cache))
    return reference_cache
