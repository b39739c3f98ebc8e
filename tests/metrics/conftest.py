"""Shared fixtures for the metrics tests: an isolated cache dir and real data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gankit.config import DataConfig
from gankit.errors import GankitError


@pytest.fixture(scope="session")
def metrics_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("gankit-cache"))


# the same place tests/conftest.py uses: ../shared/datasets beside the repository
REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("GANKIT_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(autouse=True)
def _session_cache(_isolated_cache, metrics_cache, monkeypatch):
    # after the per-test isolation of tests/conftest.py: one cache for the whole session, so
    # real-data features are embedded once, still never in the user's real cache
    monkeypatch.setenv("GANKIT_CACHE", metrics_cache)


def load_or_skip(cache: str, data_dir: str | None = None, **kwargs):
    """Load real data for a session fixture, offline: skip when it is not on this machine."""
    from gankit.data import load_dataset

    # session fixtures run before the per-test isolation, so isolate here too: no user
    # cache, no downloads (mirrors point at a closed local port)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", cache)
        mp.delenv("GANKIT_DATA", raising=False)
        for ds in ("FASHION_MNIST", "MNIST", "CIFAR10"):
            mp.setenv(f"GANKIT_MIRROR_{ds}", "http://127.0.0.1:9/")
        try:
            return load_dataset(DataConfig(**kwargs), data_dir)
        except GankitError as e:
            pytest.skip(f"real data not available: {e}")


@pytest.fixture(scope="session")
def fashion_test(metrics_cache):
    return load_or_skip(metrics_cache, dataset="fashion-mnist", split="test")


@pytest.fixture(scope="session")
def fashion_train(metrics_cache):
    return load_or_skip(metrics_cache, dataset="fashion-mnist", split="train")


@pytest.fixture(scope="session")
def mnist_test(metrics_cache):
    # only MNIST's test split is on this machine (see the mnist evaluator's card)
    return load_or_skip(metrics_cache, data_dir=str(SHARED / "mnist"), dataset="mnist", split="test")


@pytest.fixture(scope="session")
def catdog_test(metrics_cache):
    zip_path = SHARED / "cifar10-catdog.zip"
    if not zip_path.is_file():
        pytest.skip(f"{zip_path} not present")
    return load_or_skip(metrics_cache, dataset="folder", path=str(zip_path), split="test")
