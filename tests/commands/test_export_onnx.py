"""`gankit export --format onnx`: every shipped model's graph run by onnxruntime gives PyTorch's
images (dynamic batch, classes, truncation); `generate` on an ONNX export builds no PyTorch model
and gives the run's grid; docs/export.md's plain-Python example runs; bad input is one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models import MODELS, build_models
from gankit.models.onnx_graph import OnnxGenerator, export_onnx
from tests.models.test_registry import SHAPES

pytest.importorskip("onnxruntime")
TOL = 1e-4  # float32 through two runtimes: measured differences are ~1e-6
DOCS = Path(__file__).resolve().parents[2] / "docs" / "export.md"


def _trained_looking(G):
    """Batch-norm statistics and a w average away from their initial values, as after training."""
    G.train()
    with torch.no_grad():
        for _ in range(2):
            y = torch.arange(6) % G.num_classes if G.conditional else None
            G(torch.randn(6, G.z_dim) * 2 + 0.5, y)
    return G.eval()


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("conditional", [False, True])
def test_every_model_runs_in_onnxruntime_as_in_pytorch(name, conditional, tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, g_width=8, d_width=8, z_dim=16, w_dim=16, mapping_layers=2, conditional=conditional,
                      grow_steps=0)
    G, _ = build_models(cfg, SHAPES[name], 3 if conditional else 1)
    G = _trained_looking(G)
    names = export_onnx(G, tmp_path / "g.onnx")
    assert names == ["z"] + (["class"] if conditional else []) + (["truncation"] if name == "stylegan-lite" else [])
    ort_g = OnnxGenerator(tmp_path / "g.onnx", 16, 3 if conditional else 1, conditional)
    z = torch.randn(5, 16)  # exported with a batch of 2: the batch is dynamic
    y = torch.tensor([0, 1, 2, 0, 1]) if conditional else None
    with torch.no_grad():
        ref = G(z, y)
    out = ort_g(z, y)
    assert out.shape == ref.shape == (5, *SHAPES[name])
    assert (out - ref).abs().max().item() < TOL
    if name == "stylegan-lite":  # psi is an input of the graph
        ort_g.truncation_psi = 0.5
        with torch.no_grad():
            assert (ort_g(z, y) - G(z, y, psi=0.5)).abs().max().item() < TOL
            assert (ort_g(z, y) - ref).abs().max().item() > 10 * TOL


def test_random_noise_inputs_cannot_be_a_graph(tmp_path):
    G, _ = build_models(ModelConfig(name="stylegan-lite", g_width=4, d_width=4, z_dim=8, w_dim=8, mapping_layers=1),
                        SHAPES["stylegan-lite"], 1)
    G.noise_mode = "random"
    with pytest.raises(GankitError, match="noise_mode=random"):
        export_onnx(G, tmp_path / "g.onnx")
    assert not (tmp_path / "g.onnx").exists()


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    from tests.conftest import FASHION_SYSTEM

    if not (FASHION_SYSTEM / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    root = tmp_path_factory.mktemp("onnx")
    args = ["train", "--out", str(root / "runs"), "--data-dir", str(FASHION_SYSTEM)]
    for s in ("data.limit=128", "model.g_width=8", "model.d_width=8", "train.batch_size=32", "train.max_steps=3",
              "train.progress=false", "train.tensorboard=false", "train.ema=true", "data.classes=Coat,Bag"):
        args += ["--set", s]
    assert main(args) == 0
    return next(p for p in (root / "runs").iterdir() if p.is_dir())


def test_generate_from_an_onnx_export_builds_no_torch_model_and_gives_the_runs_images(cond_run, tmp_path, capsys,
                                                                                       monkeypatch):
    out = tmp_path / "g-onnx"
    assert main(["export", str(cond_run), "--out", str(out), "--format", "onnx"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "generator.onnx"]
    meta = json.loads((out / "config.json").read_text())
    assert meta["weights"] == "generator.onnx"
    assert meta["onnx"]["inputs"] == ["z", "class"] and meta["onnx"]["output_range"] == [-1.0, 1.0]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["generate", str(cond_run), "--n", "10", "--seed", "3", "--npz", str(a)]) == 0
    from gankit.runs import load

    monkeypatch.setattr(load, "build_models", lambda *_: pytest.fail("an ONNX export built a PyTorch model"))
    assert main(["generate", str(out), "--n", "10", "--seed", "3", "--npz", str(b)]) == 0
    ia, ib = np.load(a)["images"].astype(int), np.load(b)["images"].astype(int)
    assert np.array_equal(np.load(a)["labels"], np.load(b)["labels"])
    assert np.abs(ia - ib).max() <= 1  # uint8: float rounding may move a pixel by one level
    assert main(["generate", str(out), "--n", "4", "--class", "Bag", "--npz", str(b)]) == 0
    assert np.load(b)["labels"].tolist() == [8, 8, 8, 8]
    capsys.readouterr()


def test_the_plain_python_example_in_the_docs_runs(cond_run, tmp_path, monkeypatch, capsys):
    assert main(["export", str(cond_run), "--out", str(tmp_path / "g-onnx"), "--format", "onnx"]) == 0
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DOCS), "exec"), {})
    from PIL import Image

    row = Image.open(tmp_path / "row.png")
    assert row.size == (8 * 28, 28)  # eight 28x28 grey images side by side
    capsys.readouterr()


@pytest.mark.parametrize("args, fragment", [
    (["--format", "tflite"], "--format tflite: choose one of safetensors, onnx"),
    (["--format", "onnx"], "exists and is not empty"),
])
def test_bad_export_requests_are_one_line_and_write_nothing(cond_run, tmp_path, capsys, args, fragment):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    target = out if "onnx" in args else tmp_path / "new"
    assert main(["export", str(cond_run), "--out", str(target), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"] and not (tmp_path / "new").exists()


@pytest.mark.parametrize("edit, config_says", [({"conditional": False}, "model.z_dim=100, model.conditional=false"),
                                               ({"z_dim": 64}, "model.z_dim=64, model.conditional=true")])
def test_an_export_whose_config_and_graph_disagree_is_one_line(cond_run, tmp_path, capsys, edit, config_says):
    """A conditional graph under an edited config would sample without the class (or crash on z): the
    export's config is checked against the graph's inputs when it is loaded."""
    out = tmp_path / "g-onnx"
    assert main(["export", str(cond_run), "--out", str(out), "--format", "onnx"]) == 0
    meta = json.loads((out / "config.json").read_text())
    meta["config"]["model"].update(edit)
    (out / "config.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["generate", str(out), "--n", "4", "--npz", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"gankit: error: {out / 'config.json'}: says {config_says}, but generator.onnx takes z "
                   "['batch', 100], class ['batch']; the config and the graph do not belong together: export the "
                   "run again"]
    assert not (tmp_path / "x.npz").exists()
