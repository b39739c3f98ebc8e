"""Tiny studies on real Fashion-MNIST: a few seconds per trial."""

from __future__ import annotations

import pytest
from study_helpers import tiny_study


@pytest.fixture
def fashion(fashion_dir, shared_cache, monkeypatch):
    """Fashion-MNIST from the Debian package, found through $GANKIT_DATA by every process,
    and the session's shared cache of its reference features."""
    monkeypatch.setenv("GANKIT_DATA", str(fashion_dir))
    return fashion_dir


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory, reference_cache):
    """One finished two-setting, two-seed study directory with a hostile variant name, shared
    by the report tests (read-only: copy it before changing anything)."""
    import os
    from pathlib import Path

    system = Path("/usr/share/datasets/fashion-mnist")
    if not (system / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    old = {k: os.environ.get(k) for k in ("GANKIT_DATA", "GANKIT_CACHE")}
    os.environ["GANKIT_DATA"] = str(system)
    os.environ["GANKIT_CACHE"] = str(reference_cache)
    try:
        from gankit.studies import sweep

        hostile = "<script>alert(1)</script> & \"smoothing\""
        study = tiny_study("hostile<b>", axes={"v": {"variants": {"baseline": {}, hostile: {"loss.real_label": 0.9}}}},
                           repeats=2, description="<img src=x onerror=alert(2)>")
        return sweep(study, out=str(tmp_path_factory.mktemp("studies") / "s"), progress=False)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
