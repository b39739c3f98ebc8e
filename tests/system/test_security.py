"""Security: no pickle is ever loaded, archives are read in place, reports escape what users wrote.

(Downloads verify checksums before anything is read: tests/data/test_download_security.py.)
"""

from __future__ import annotations

import ast
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError

SRC = Path(__file__).resolve().parents[2] / "src" / "gankit"
SAFEPICKLE = SRC / "data" / "safepickle.py"  # the one restricted unpickler (CIFAR python batches)

XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
FOLDER_XSS = '"><img src=x onerror=alert(2)>'  # no "/": usable as a folder name
CLASS_XSS = "<svg onload=alert(3)>"


# --------------------------------------------------------------------------------------- (a) no pickle


class Payload:
    """Unpickling this creates `marker`: proof that code in a file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_true(call: ast.Call, name: str) -> bool | None:
    for kw in call.keywords:
        if kw.arg == name:
            return isinstance(kw.value, ast.Constant) and kw.value.value is True
    return None


UNPICKLERS = {"pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.load", "cPickle.loads", "dill.load",
              "dill.loads", "cloudpickle.load", "cloudpickle.loads", "joblib.load", "marshal.load", "marshal.loads",
              "pandas.read_pickle", "pd.read_pickle", "shelve.open", "torch.jit.load", "torch.package.PackageImporter"}
EXTRACTORS = {"extractall", "extract", "unpack_archive"}


def pickle_violations(source: str, filename: str) -> list[str]:
    """Calls in `source` that could unpickle or extract an archive onto disk:
    torch.load without weights_only=True, numpy.load with allow_pickle=True, any pickle-family
    loader (outside safepickle.py), and archive extraction (zipfile/tarfile/shutil)."""
    out = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if any(m.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve") for m in mods):
                out.append(f"{filename}:{node.lineno}: imports a pickle module")
            if isinstance(node, ast.ImportFrom) and node.module in ("torch", "numpy") and "load" in names:
                out.append(f"{filename}:{node.lineno}: imports {node.module}.load by name (call it qualified)")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        where = f"{filename}:{node.lineno}: {name}("
        if name == "torch.load" and _is_true(node, "weights_only") is not True:
            out.append(where + ") without weights_only=True")
        elif name in ("np.load", "numpy.load") and _is_true(node, "allow_pickle"):
            out.append(where + "allow_pickle=True)")
        elif name in UNPICKLERS:
            out.append(where + ")")
        elif name.rsplit(".", 1)[-1] in EXTRACTORS and name != "extract":
            out.append(where + ") extracts an archive onto disk")
    return out


def test_the_scanner_catches_each_way_to_unpickle():
    bad = """
import pickle
from torch import load
torch.load(f)
torch.load(f, weights_only=False)
np.load(f, allow_pickle=True)
pickle.loads(b)
zf.extractall(d)
tar.extract(m)
shutil.unpack_archive(f, d)
"""
    found = pickle_violations(bad, "bad.py")
    assert len(found) == 9, found
    good = "torch.load(f, weights_only=True, map_location='cpu')\nnp.load(f)\nnp.load(f, allow_pickle=False)\n"
    assert pickle_violations(good, "good.py") == []


def test_no_module_of_gankit_unpickles_or_extracts():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SAFEPICKLE:
            continue
        found += pickle_violations(path.read_text(), str(path.relative_to(SRC)))
    assert found == [], "pickle can run code: use safetensors, torch.load(..., weights_only=True) or " \
                        "data/safepickle.py; read archives in place:\n" + "\n".join(found)


def test_the_restricted_unpickler_is_the_only_pickle_user_and_refuses_code(tmp_path):
    from gankit.data.safepickle import loads_data

    marker = tmp_path / "ran"
    with pytest.raises(GankitError, match="refusing to load global .*open"):
        loads_data(pickle.dumps({b"data": Payload(marker)}), "evil.pkl")
    assert not marker.exists()


def test_a_pickled_checkpoint_is_refused_and_never_runs(tmp_path):
    """A torch.save'd (pickle) file put where the safetensors checkpoint belongs."""
    from gankit.config import Config
    from gankit.runs.layout import create_run_dir
    from gankit.runs.load import load_run

    marker = tmp_path / "ran"
    run = create_run_dir(tmp_path / "runs", "evil")
    run.write_config(Config())
    torch.save({"G": Payload(marker)}, run.last_checkpoint)
    with pytest.raises(GankitError, match="not a readable checkpoint"):
        load_run(run.path)
    assert not marker.exists()


def test_foreign_pth_weights_are_loaded_weights_only(tmp_path):
    """The one foreign .pth gankit reads (Inception-v3 for torch-fidelity) is checked with
    torch.load(weights_only=True) before torch-fidelity unpickles it."""
    from gankit.metrics.inception import check_weights_file

    marker = tmp_path / "ran"
    evil = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    torch.save({"conv.weight": torch.zeros(2), "x": Payload(marker)}, evil)
    with pytest.raises(GankitError, match=r"not a plain weights file \(UnpicklingError.*refusing to load it"):
        check_weights_file(evil)
    assert not marker.exists()
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"garbage: neither a zip nor a pickle")
    with pytest.raises(GankitError, match="not a plain weights file"):
        check_weights_file(garbage)
    plain = tmp_path / "plain.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.ones(2, 3), "fc.weight": torch.zeros(4)}, plain)
    check_weights_file(plain)  # tensors only, with the FID Inception's layer names: accepted (shapes: when it loads)


# --------------------------------------------------------------------------------------- (b) zips in place


def png(value: int, size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full(size, value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("evil", ["../evil.png", "/abs/evil.png", "a/../../evil.png", "cat/../../evil.png",
                                  "../../../../../../tmp/evil.png"])
def test_zip_members_with_unsafe_paths_are_skipped_and_nothing_is_written(tmp_path, monkeypatch, evil):
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a relative "../evil.png" written by mistake would land in tmp_path
    src = work / "photos.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("cat/1.png", png(10))
        zf.writestr("dog/1.png", png(20))
        zf.writestr(evil, png(30))
    before = tree(tmp_path)
    with pytest.warns(UserWarning, match=r"ignored 1 member with an unsafe path \(first: '.*evil.png'\)"):
        data = load_dataset(DataConfig(dataset="folder", path=str(src)))
    assert data.class_names == ["cat", "dog"] and sorted(data.images[:, 0, 0, 0].tolist()) == [10, 20]
    assert tree(tmp_path) == before  # nothing written anywhere under tmp, the zip's folder included
    assert not Path("/abs/evil.png").exists() and not Path("/tmp/evil.png").exists()


def test_a_zip_of_only_unsafe_members_is_an_error_and_writes_nothing(tmp_path, monkeypatch):
    from gankit.data.folder import load_folder_images

    monkeypatch.chdir(tmp_path)
    src = tmp_path / "evil.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for name in ("../evil.png", "/abs/evil.png", "a/../../evil.png"):
            zf.writestr(name, png(30))
    with pytest.warns(UserWarning, match="ignored 3 members with an unsafe path"), \
            pytest.raises(GankitError, match="evil.zip: no files found"):
        load_folder_images(src)
    assert tree(tmp_path) == ["evil.zip"]


# --------------------------------------------------------------------------------------- (c) escaped reports


def assert_escaped(page: str, payloads: list[str], shown: list[str]) -> None:
    """No payload appears raw, no tag of theirs at all; the `shown` ones appear escaped."""
    import html

    for raw in payloads:
        assert raw not in page, f"unescaped {raw!r} in the page"
    assert "<script>" not in page.replace("<script>\nfunction sortTable", "")  # the study page's own code only
    for tag in ("<img src=x", "<svg"):
        assert tag not in page
    for p in shown:
        assert html.escape(p, quote=True) in page or html.escape(p, quote=False) in page, p


def test_the_run_report_escapes_names_classes_and_config_strings(tmp_path, monkeypatch):
    from gankit.cli import main
    from gankit.report.html import write_report

    data = tmp_path / FOLDER_XSS  # data.path holds a payload
    for cls, value in ((CLASS_XSS, 40), ("plain", 200)):  # so does a class folder name
        (data / cls).mkdir(parents=True)
        for i in range(8):
            (data / cls / f"{i}.png").write_bytes(png(value + i, (28, 28)))
    out = tmp_path / "runs"
    assert main(["train", "--name", XSS[0], "--out", str(out), "--set", "data.dataset=folder",
                 "--set", f"data.path={data}", "--set", f"data.classes={CLASS_XSS},plain",
                 "--set", f"description={XSS[0]} {XSS[1]}", "--set", "model.g_width=4", "--set", "model.d_width=4",
                 "--set", "train.batch_size=8", "--set", "train.max_steps=2", "--set", "train.epochs=1",
                 "--set", "train.progress=false", "--set", "train.tensorboard=false"]) == 0
    (run_path,) = [p for p in out.iterdir() if p.is_dir()]
    assert "<" not in run_path.name and ">" not in run_path.name  # --name is slugged into the folder name
    from gankit.runs.layout import open_run_dir

    run = open_run_dir(run_path)
    # a run directory from elsewhere may carry anything in its logs as well: in the fields a reader
    # does not check, it is shown escaped; where a number belongs (step, epoch, time) it is damage,
    # refused in one line before any page is written
    run.log_event("warning", step=1, message=XSS[0])
    run.log_event("samples", epoch=1, step=2, fixed=f"samples/{XSS[1]}.png", note=XSS[0])
    run.append(run.stats_file, {"step": 3, "epoch": 1.0, "time": 2.0, "img_per_s": XSS[1], XSS[0]: 1.0})
    (run.path / "metrics.json").write_text(json.dumps({XSS[0]: 1.0, "fid": 3.0, "reference_split": XSS[1]}))
    page = write_report(run).read_text()
    assert_escaped(page, XSS + [FOLDER_XSS, CLASS_XSS], shown=XSS + [FOLDER_XSS, CLASS_XSS])
    from gankit.util.jsonfile import DamagedFile

    run.append(run.stats_file, {"step": XSS[0], "epoch": XSS[1], "time": XSS[0], "img_per_s": XSS[1]})
    run.append(run.stats_file, {"step": 4})
    with pytest.raises(DamagedFile, match="stats.jsonl:3: its step is a JSON string"):
        write_report(run)


def test_the_study_report_escapes_names_labels_and_values(tmp_path):
    from gankit.runs.layout import RunDir
    from gankit.studies import write_study_report
    from gankit.studies.spec import load_study
    from gankit.studies.sweep import prepare_dir

    study_file = tmp_path / "hostile.toml"
    study_file.write_text(f"""
description = {json.dumps(XSS[0] + ' ' + XSS[1])}
[set]
"data.path" = {json.dumps(FOLDER_XSS)}
[axes.{json.dumps("v" + XSS[1])}.variants]
{json.dumps(XSS[0])} = {{ "loss.real_label" = 0.9 }}
{json.dumps(CLASS_XSS)} = {{}}
[axes."loss.name"]
values = ["ns", "lsgan"]
""")
    study = load_study(str(study_file))
    study = type(study)(**{**study.__dict__, "name": XSS[0]})  # a study name from a forged study.json
    study_dir = prepare_dir(study, str(tmp_path / "study"), None)
    grid = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(grid, format="PNG")
    for i, params in enumerate(study.settings()):
        label = study.label(params)
        path = study_dir / "trials" / f"{i:04d}-t"
        (path / "samples").mkdir(parents=True)
        (path / "samples" / "fixed_e0001.png").write_bytes(grid.getvalue())
        RunDir(path).log_event("samples", epoch=1, step=2, fixed="samples/fixed_e0001.png")
        RunDir(path).append(path / "stats.jsonl", {"step": 2, "epoch": 1, "d_loss": 1.0, "g_loss": 1.0, "time": 1})
        (path / "config.json").write_text(study.config(params).to_json())
        failed = i == 0
        (path / "trial.json").write_text(json.dumps({
            "label": label, "params": params, "repeat": 0, "seed": 0, "value": None if failed else 10.0 + i,
            "error": XSS[1] if failed else None, "seconds": 1.0, "finished": 1.0}))
        (path / "metrics.json").write_text(json.dumps({"fid": 10.0 + i, XSS[0]: 1}))
    page = write_study_report(study_dir).read_text()
    assert_escaped(page, XSS + [FOLDER_XSS, CLASS_XSS], shown=XSS + [CLASS_XSS])
    summary = (study_dir / "summary.md").read_text()
    for raw in XSS + [CLASS_XSS]:
        assert raw not in summary  # Markdown viewers render raw HTML too
