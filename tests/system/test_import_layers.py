"""The package's floors (import-linter's `layers` contract in pyproject.toml): kept by the tree as
it is, and broken by one upward import, on a copy of the package so the real tree is untouched."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT.is_file(), reason="import-linter is not installed (pip install import-linter)")


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}  # this tree's gankit ahead of the installed one
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layers_contract_is_kept():
    out = lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "src" / "gankit", tmp_path / "src" / "gankit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.safetensors"))
    sampling = tmp_path / "src" / "gankit" / "models" / "sampling.py"
    sampling.write_text(sampling.read_text() + "\nfrom gankit.training.state import TrainingState  # noqa\n")
    out = lint(tmp_path)
    assert out.returncode == 1
    assert "gankit.models is not allowed to import gankit.training" in out.stdout
    assert "gankit.models.sampling -> gankit.training.state" in out.stdout
