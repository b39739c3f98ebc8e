"""launch/start.py: the one way to start a run.  A failed pre-flight leaves nothing; config.json is
written once, with model.conditional and model.d_width resolved; a resume rewrites it only when it
changed.  (The sweep's trials start through it too: tests/studies/test_sweep.py runs them end to
end.)"""

import json

import pytest
import torch

from gankit.data import ImageData
from gankit.errors import GankitError
from gankit.launch.presets import build_config
from gankit.launch.start import start_run
from gankit.runs.load import load_run

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=16", "train.progress=false",
        "train.tensorboard=false", "train.log_every=1", "train.ema=false", "train.max_steps=2"]


def data(n: int = 32, classes: int = 2) -> ImageData:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % classes
    names = [f"c{i}" for i in range(classes)] if classes > 1 else []
    return ImageData(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g), labels, names, "toy")


@pytest.mark.parametrize("sets, data_kw, message", [
    (["train.batch_size=64"], {}, "toy has 32 images, fewer than train.batch_size=64"),
    (["model.conditional=true"], {"classes": 1}, "model.conditional=true needs a labelled dataset"),
])
def test_a_failed_preflight_leaves_no_run_directory(tmp_path, sets, data_kw, message):
    cfg = build_config(sets=TINY + sets)
    with pytest.raises(GankitError, match=message):
        start_run(cfg, out=tmp_path / "runs", data=data(**data_kw), announce=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("classes, conditional", [(2, True), (1, False)])
def test_config_json_is_written_once_with_conditional_resolved(tmp_path, monkeypatch, classes, conditional):
    from gankit.runs.layout import RunDir

    writes = []
    real = RunDir.write_config
    monkeypatch.setattr(RunDir, "write_config", lambda self, cfg: (writes.append(self.path), real(self, cfg))[1])
    cfg = build_config(sets=TINY)
    assert cfg.model.conditional == "auto"
    run, summary = start_run(cfg, out=tmp_path / "runs", name="once", data=data(classes=classes), announce=False)
    assert writes == [run.path] and summary["step"] == 2
    assert json.loads(run.config_file.read_text())["model"]["conditional"] is conditional
    assert load_run(run.path).cfg.model.conditional is conditional  # the checkpoint says the same


@pytest.mark.parametrize("classes, width", [(2, 64), (1, 32)])
def test_config_json_records_the_d_width_auto_chose(tmp_path, classes, width):
    cfg = build_config(sets=[s for s in TINY if not s.startswith("model.d_width=")])
    assert cfg.model.d_width == "auto"  # the default preset's
    run, _ = start_run(cfg, out=tmp_path / "runs", data=data(classes=classes), announce=False)
    assert json.loads(run.config_file.read_text())["model"]["d_width"] == width
    assert load_run(run.path).cfg.model.d_width == width  # rebuilt from the checkpoint alone


def test_a_resume_rewrites_config_json_only_when_it_changed(tmp_path):
    cfg = build_config(sets=TINY)
    run, _ = start_run(cfg, out=tmp_path / "runs", data=data(), announce=False)
    before = run.config_file.stat().st_mtime_ns
    cfg = build_config(sets=TINY)  # the same settings: nothing to rewrite
    start_run(cfg, at=run.path, resume=True, data=data(), announce=False)
    assert run.config_file.stat().st_mtime_ns == before
    cfg = build_config(sets=TINY[:-1] + ["train.max_steps=4"])
    _, summary = start_run(cfg, at=run.path, resume=True, data=data(), announce=False)
    assert summary["step"] == 4 and json.loads(run.config_file.read_text())["train"]["max_steps"] == 4


def test_resume_without_a_checkpoint_is_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(GankitError, match="no checkpoint to resume from"):
        start_run(build_config(sets=TINY), at=folder, resume=True, data=data(), announce=False)
    assert list(folder.iterdir()) == []


def folder_data(n: int = 240) -> ImageData:
    """A flat 'folder' of smooth random patterns (no shipped evaluator serves it)."""
    g = torch.Generator().manual_seed(1)
    coarse = torch.randint(0, 256, (n, 1, 7, 7), generator=g).float()
    images = torch.nn.functional.interpolate(coarse, size=(28, 28), mode="bilinear").to(torch.uint8)
    return ImageData(images, torch.zeros(n, dtype=torch.long), [], "folder:patterns")


def test_periodic_evaluation_on_a_folder_makes_its_evaluator_before_step_0(tmp_path, monkeypatch, capsys):
    from gankit.metrics import evaluator_folder as ef

    monkeypatch.setattr(ef, "SSL_STEPS", 10)
    cfg = build_config(sets=TINY + ["data.dataset=folder", f"data.path={tmp_path}", "train.max_steps=0", "train.epochs=2",
                                    "train.eval_every=1", "train.eval_n=100", "train.batch_size=40"])
    with pytest.warns(Warning, match="n=100"):  # the small-n warning of each periodic FID
        run, _ = start_run(cfg, out=tmp_path, data=folder_data())
    err = capsys.readouterr().err
    assert err.index("evaluator ssl-") < err.index("run directory:")  # made before the run starts
    evals = [json.loads(x) for x in run.evals_file.open()]
    assert [r["epoch"] for r in evals] == [1.0, 2.0] and all(r["fid"] > 0 and r["floor_fid"] >= 0 for r in evals)
    assert len({r["evaluator_sha256"] for r in evals}) == 1 and run.best_checkpoint.is_file()
    # the next run on the same images reuses it: nothing trained
    with pytest.warns(Warning, match="n=100"):
        start_run(cfg, out=tmp_path, data=folder_data())
    assert "evaluator ssl-" not in capsys.readouterr().err


def test_eval_evaluator_none_makes_nothing_and_says_so(tmp_path, capsys):
    cfg = build_config(sets=TINY + ["data.dataset=folder", f"data.path={tmp_path}", "train.eval_every=1", "train.eval_evaluator=none"])
    with pytest.warns(Warning, match="train.eval_evaluator=none, so this run has no periodic FID"):
        run, _ = start_run(cfg, out=tmp_path, data=folder_data())
    assert "evaluator" not in capsys.readouterr().err.replace("eval_evaluator", "")
    assert not run.evals_file.exists()
