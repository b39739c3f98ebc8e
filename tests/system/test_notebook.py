"""notebooks/exploration.ipynb runs top to bottom (a tiny study on real Fashion-MNIST)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")
NOTEBOOK = REPO / "notebooks" / "exploration.ipynb"


def _outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _text(outputs) -> str:
    parts = []
    for o in outputs:
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif "data" in o:
            parts.append(o["data"].get("text/plain", "") + o["data"].get("text/markdown", ""))
    return "\n".join(parts)


def test_exploration_notebook_runs(tmp_path, monkeypatch, reference_cache):
    if not (FASHION_SYSTEM / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client.manager import KernelManager

    # the kernel inherits this environment: an isolated cache, the study in tmp_path
    monkeypatch.setenv("GANKIT_CACHE", str(reference_cache))  # the session's reference features
    monkeypatch.setenv("GANKIT_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)

    class VenvKernel(KernelManager):
        """The kernel on this very interpreter (the venv's), whatever "python3" resolves to."""

        def format_kernel_cmd(self, extra_arguments=None):
            return [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not _outputs(nb), "store the notebook without outputs"
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", kernel_manager_class=VenvKernel,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = _outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    # 4 trials' grids + the overlaid curves
    assert len(pngs) >= 5, f"{len(pngs)} image/png outputs"
    text = _text(outputs)
    assert "## Study notebook-losses-tiny" in text
    assert "| # | setting | fid | seeds |" in text
    assert "loss=ns" in text and "loss=hinge" in text

    study_dir = tmp_path / "out" / "notebook-losses-tiny"
    assert (study_dir / "report.html").is_file() and (study_dir / "summary.md").is_file()
    assert f"report: {study_dir / 'report.html'}" in text
    assert len(list((study_dir / "trials").iterdir())) == 4
    assert not (REPO / "studies" / "notebook-losses-tiny").exists()
