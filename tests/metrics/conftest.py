"""Shared fixtures for the metrics tests: an isolated cache dir and real data when present."""

from __future__ import annotations

import pytest

from gankit.config import DataConfig
from gankit.errors import GankitError


@pytest.fixture(scope="session")
def metrics_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("gankit-cache"))


@pytest.fixture(autouse=True)
def _isolated_cache(metrics_cache, monkeypatch):
    # reference features are cached per session, never in the user's real cache
    monkeypatch.setenv("GANKIT_CACHE", metrics_cache)


def load_or_skip(data_dir: str | None = None, **kwargs):
    from gankit.data import load_dataset

    try:
        return load_dataset(DataConfig(**kwargs), data_dir)
    except GankitError as e:
        pytest.skip(f"real data not available: {e}")


@pytest.fixture(scope="session")
def fashion_test():
    return load_or_skip(dataset="fashion-mnist", split="test")


@pytest.fixture(scope="session")
def fashion_train():
    return load_or_skip(dataset="fashion-mnist", split="train")
