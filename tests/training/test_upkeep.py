"""Nothing lost: kills between checkpoints, a full disk, divergence (stop or roll back),
persistent collapse (roll back to the best checkpoint with a fix), early stopping.

Faults are real where they can be (SIGKILL of a `gankit train` process, a save that fails
with ENOSPC); a NaN is injected by wrapping the D objective the loop calls."""

import dataclasses
import errno
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from gankit.cli import main
from gankit.launch.presets import build_config
from gankit.runs.checkpoint import load_state
from gankit.runs.layout import create_run_dir, read_jsonl
from tiny_runs import resolved_train as train

TINY = ["data.limit=256", "model.g_width=8", "model.d_width=8", "train.batch_size=32",
        "train.log_every=2", "train.progress=false", "train.tensorboard=false"]


def _gankit(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gankit", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _ckpt_step(path: Path) -> int | None:
    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()["gankit"])["step"]
    except Exception:  # not there yet
        return None


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    end = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"finished before the kill: {proc.communicate()[1][-2000:]}"
        assert time.time() < end, "timed out waiting to kill"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


# sixteen steps per epoch, four epochs, a checkpoint every 5 steps and none per epoch; one
# thread so the weights of separate processes can be compared bit for bit
KILL_SETS = ["data.limit=512", "model.g_width=32", "model.d_width=32", "train.batch_size=32", "train.epochs=4",
             "train.log_every=1", "train.progress=false", "train.tensorboard=false", "train.threads=1",
             "train.checkpoint_every=100", "train.checkpoint_every_steps=5", "train.sample_every=100"]


def _train_args(out: Path, name: str, data_dir) -> list[str]:
    return ["train", "--out", str(out), "--name", name, "--data-dir", str(data_dir),
            *[x for s in KILL_SETS for x in ("--set", s)]]


@pytest.mark.slow  # 10-40 s: `make test-slow` (the default suite stays under 10 minutes)
def test_sigkill_between_checkpoints_loses_at_most_n_steps_and_resumes_bit_identically(tmp_path, fashion_dir):
    reference = _gankit(*_train_args(tmp_path / "ref", "whole", fashion_dir))
    target = random.choice([s for s in range(7, 45) if s % 5])  # not right after a checkpoint
    runs = {}
    for name, ready_at in (("random", lambda run: max([r["step"] for r in read_jsonl(run / "stats.jsonl")],
                                                      default=0) >= target),
                           ("after-checkpoint", lambda run: (_ckpt_step(run / "checkpoints/last.safetensors")
                                                             or 0) >= 10)):
        out = tmp_path / name
        proc = _gankit(*_train_args(out, name, fashion_dir))
        run = lambda: next(out.glob("0001-*"), None)  # noqa: E731
        _kill_when(proc, lambda: run() is not None and ready_at(run()))
        runs[name] = run()
    assert reference.wait() == 0, reference.communicate()[1][-2000:]
    ref = load_state(next((tmp_path / "ref").glob("0001-*")) / "checkpoints/last.safetensors")
    for name, run in runs.items():
        logged = max(r["step"] for r in read_jsonl(run / "stats.jsonl"))
        saved = load_state(run / "checkpoints/last.safetensors")["step"]
        assert saved % 5 == 0 and 0 <= logged - saved <= 5, (name, target, logged, saved)  # at most 5 steps lost
        resumed = _gankit("train", "--resume", str(run), "--data-dir", str(fashion_dir))
        _, err = resumed.communicate()
        assert resumed.returncode == 0, err[-2000:]
        # the log: every step once, whatever the kill cut off
        assert [r["step"] for r in read_jsonl(run / "stats.jsonl")] == list(range(1, 65)), (name, target)
        assert [e["step"] for e in read_jsonl(run / "events.jsonl") if e["event"] == "resume"] == [saved]
        assert not [p.name for p in (run / "checkpoints").iterdir() if p.name != "last.safetensors"]
        final = load_state(run / "checkpoints/last.safetensors")
        assert final["step"] == 64
        for net in ("G", "D"):
            for key, v in ref[net].items():
                assert torch.equal(v, final[net][key]), (name, target, net, key)


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint_and_says_so(tmp_path, fashion_dir, capsys,
                                                                            monkeypatch):
    import gankit.runs.checkpoint as ckpt

    real_save, calls = ckpt.save_file, []

    def save_file(tensors, path, metadata=None):  # the second save runs out of space half-way
        calls.append(path)
        if len(calls) == 2:
            Path(path).write_bytes(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(ckpt, "save_file", save_file)
    out = tmp_path / "runs"
    rc = main(["train", "--out", str(out), "--data-dir", str(fashion_dir), "--epochs", "2",
               *[x for s in TINY + ["train.checkpoint_every_steps=3"] for x in ("--set", s)]])
    run = next(out.glob("0001-*"))
    last = run / "checkpoints" / "last.safetensors"
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"gankit: error: could not save the checkpoint {last} (No space left on device); the previous "
        "last.safetensors is intact; free disk space and continue with gankit train --resume RUN")
    assert load_state(last)["step"] == 3  # the first save, loadable
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.safetensors"]  # no half-written temp file


def _inject_nan(monkeypatch, at_steps):
    """Make D's loss NaN at the given (0-based) calls of the D objective."""
    import gankit.training.objectives as loop

    real, calls = loop.d_objective, []

    def d_objective(*args, **kwargs):
        d = real(*args, **kwargs)
        calls.append(1)
        if len(calls) - 1 in at_steps:
            d = dataclasses.replace(d, total=d.total * float("nan"))
        return d

    monkeypatch.setattr(loop, "d_objective", d_objective)
    return calls


def _tiny(tmp_path, sets, name="r"):
    cfg = build_config(sets=TINY + sets)
    run = create_run_dir(tmp_path / "runs", name)
    run.write_config(cfg)
    return cfg, run


def test_divergence_stops_with_one_line_naming_step_network_and_loss(tmp_path, fashion_dir, monkeypatch, capsys):
    _inject_nan(monkeypatch, {6})  # the 7th step
    out = tmp_path / "runs"
    rc = main(["train", "--out", str(out), "--data-dir", str(fashion_dir), "--epochs", "2",
               *[x for s in TINY + ["train.checkpoint_every_steps=5"] for x in ("--set", s)]])
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "gankit: error: training diverged at step 7: the D loss (hinge) is not finite; the last good checkpoint "
        "(step 5) is intact; lower optim.g_lr/optim.d_lr, set train.on_divergence=rollback, or try "
        "model.d_spectral_norm=true")
    run = next(out.glob("0001-*"))
    state = load_state(run / "checkpoints" / "last.safetensors")
    assert state["step"] == 5 and all(torch.isfinite(v).all() for v in state["D"].values())
    assert [e for e in read_jsonl(run / "events.jsonl") if e["event"] == "diverged"] == [
        {"event": "diverged", "step": 7, "network": "D", "quantity": "loss", "loss": "hinge"}]


def test_non_finite_weights_are_named_and_never_saved(tmp_path, fashion_dir, monkeypatch):
    import gankit.training.loop as loop

    real, calls = loop.backward_and_step, []

    def backward_and_step(loss, opt, scaler, grad_norm=None):
        out = real(loss, opt, scaler, grad_norm)
        calls.append(opt)
        if len(calls) == 2 * 4:  # G's update in step 4 leaves an infinite weight
            with torch.no_grad():
                opt.param_groups[0]["params"][0].view(-1)[0] = float("inf")
        return out

    monkeypatch.setattr(loop, "backward_and_step", backward_and_step)
    cfg, run = _tiny(tmp_path, ["train.epochs=1"])
    with pytest.raises(Exception) as e:
        train(cfg, run, data_dir=str(fashion_dir))
    # step 4 ends a log interval (log_every=2): its row checks the weights before step 5 sees NaN
    assert str(e.value).startswith("training diverged at step 4: G's weights are not finite; no checkpoint had "
                                   "been saved yet;")
    assert not run.last_checkpoint.exists()


def test_rollback_returns_to_the_last_checkpoint_with_lower_lrs_and_goes_on(tmp_path, fashion_dir, monkeypatch):
    _inject_nan(monkeypatch, {6})
    cfg, run = _tiny(tmp_path, ["train.epochs=2", "train.checkpoint_every_steps=4", "train.on_divergence=rollback",
                                "optim.g_lr=2e-4", "optim.d_lr=4e-4"])
    summary = train(cfg, run, data_dir=str(fashion_dir))
    assert summary["step"] == 16
    rolls = [e for e in run.events() if e["event"] == "rollback"]
    assert rolls == [{"event": "rollback", "step": 7, "to_step": 4, "reason": "D's loss diverged",
                      "checkpoint": "last.safetensors", "changes": {"optim.g_lr": 1e-4, "optim.d_lr": 2e-4},
                      "rollbacks": 1}]
    assert [r["step"] for r in run.stats()] == list(range(2, 17, 2))  # no step twice
    state = load_state(run.last_checkpoint)
    assert state["opt_G"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    assert state["opt_D"]["param_groups"][0]["lr"] == pytest.approx(2e-4)
    assert state["rollbacks"] == 1
    assert state["overrides"]["optim.d_lr"] == pytest.approx(2e-4)  # the change lives in the state, not config.json


def test_rollback_gives_up_after_max_rollbacks(tmp_path, fashion_dir, monkeypatch):
    _inject_nan(monkeypatch, set(range(2, 10_000)))  # diverges every time
    cfg, run = _tiny(tmp_path, ["train.epochs=2", "train.on_divergence=rollback", "train.max_rollbacks=2",
                                "optim.d_lr=4e-4"])
    with pytest.raises(Exception, match=r"^training diverged at step 1: the D loss \(hinge\) is not finite after 2 "
                                        r"rollbacks \(train.max_rollbacks\); the last good checkpoint \(step 0\)"):
        train(cfg, run, data_dir=str(fashion_dir))
    rolls = [e for e in run.events() if e["event"] == "rollback"]
    assert [(e["step"], e["to_step"]) for e in rolls] == [(3, 0), (1, 0)]
    assert load_state(run.last_checkpoint)["opt_D"]["param_groups"][0]["lr"] == pytest.approx(1e-4)  # halved twice


def _scripted_fids(monkeypatch, fids):
    from gankit.training.monitor import TrainingMonitor

    def evaluate(self, G, step, epoch, device):
        self.run.append(self.run.evals_file, {"step": step, "epoch": epoch, "fid": fids[step]})
        return fids[step]

    monkeypatch.setattr(TrainingMonitor, "evaluate", evaluate)


def test_early_stop_after_patience_evaluations_without_improvement(tmp_path, fashion_dir, monkeypatch):
    _scripted_fids(monkeypatch, {8: 30.0, 16: 20.0, 24: 25.0, 32: 21.0, 40: 5.0})
    cfg, run = _tiny(tmp_path, ["train.epochs=5", "train.eval_every=1", "train.early_stop_patience=2"])
    summary = train(cfg, run, data_dir=str(fashion_dir))
    assert summary["step"] == 32 and not summary["interrupted"]  # 24 and 32 did not beat 20
    assert [e for e in run.events() if e["event"] == "early_stop"] == [
        {"event": "early_stop", "step": 32, "best_fid": 20.0, "evaluations_without_improvement": 2}]
    assert load_state(run.checkpoints / "best.safetensors")["step"] == 16
    assert load_state(run.last_checkpoint)["step"] == 32
    assert (run.samples / "fixed_e0004.png").is_file()


def test_keep_best_false_keeps_no_best_checkpoint(tmp_path, fashion_dir, monkeypatch):
    _scripted_fids(monkeypatch, {8: 30.0, 16: 20.0})
    cfg, run = _tiny(tmp_path, ["train.epochs=2", "train.eval_every=1", "train.keep_best=false"])
    train(cfg, run, data_dir=str(fashion_dir))
    assert not (run.checkpoints / "best.safetensors").exists()
    assert load_state(run.last_checkpoint)["best_fid"] == 20.0


def test_persistent_collapse_rolls_back_to_the_best_checkpoint_with_the_first_fix(tmp_path, fashion_dir,
                                                                                 monkeypatch):
    from gankit.training.monitor import TrainingMonitor

    _scripted_fids(monkeypatch, {8: 30.0, 16: 40.0, 24: 35.0})
    rolled_back = []
    real_reset = TrainingMonitor.reset

    def observe(self, step, row, fake):  # the diversity condition holds from step 18 until the rollback
        if step >= 18 and not rolled_back:
            self.judge.active.add("diversity")
        return []

    def reset(self):
        rolled_back.append(True)
        real_reset(self)

    monkeypatch.setattr(TrainingMonitor, "observe", observe)
    monkeypatch.setattr(TrainingMonitor, "reset", reset)
    cfg, run = _tiny(tmp_path, ["train.epochs=3", "train.eval_every=1", "train.on_collapse=rollback",
                                "train.collapse_patience=2", "optim.g_lr=2e-4"])
    summary = train(cfg, run, data_dir=str(fashion_dir))
    assert summary["step"] == 24
    rolls = [e for e in run.events() if e["event"] == "rollback"]
    assert rolls == [{"event": "rollback", "step": 20, "to_step": 8, "checkpoint": "best.safetensors",
                      "reason": "the collapse monitor's diversity warning lasted 2 log rows",
                      "changes": {"optim.g_lr": 1e-4}, "rollbacks": 1}]
    assert [r["step"] for r in run.stats()] == list(range(2, 25, 2))
    assert [r["step"] for r in read_jsonl(run.evals_file)] == [8, 16, 24]  # step 16's row was redone
    assert load_state(run.last_checkpoint)["opt_G"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    assert "rollback" in (run.path / "report.html").read_text()


def test_checkpoints_every_n_steps_and_every_m_minutes(tmp_path, fashion_dir, monkeypatch):
    from gankit.training.state import TrainingState

    saved = []
    real_save = TrainingState.save
    monkeypatch.setattr(TrainingState, "save", lambda self, path: (saved.append((self.step, Path(path).name)),
                                                                   real_save(self, path))[1])
    cfg, run = _tiny(tmp_path, ["train.epochs=2", "train.checkpoint_every_steps=3"])
    train(cfg, run, data_dir=str(fashion_dir))
    assert [s for s, _ in saved] == [3, 6, 8, 9, 12, 15, 16]  # every 3 steps, and each epoch's end
    saved.clear()
    cfg, run = _tiny(tmp_path, ["train.epochs=1", "train.checkpoint_every_minutes=1e-9"], name="m")
    train(cfg, run, data_dir=str(fashion_dir))
    assert [s for s, _ in saved] == list(range(1, 9))  # an (almost) zero interval: every step


def test_periodic_evaluation_without_an_evaluator_says_so_at_the_start(tmp_path):
    """A folder no evaluator serves: no FID curve, no best checkpoint, no early stop; one warning
    line at the start (and in the report's warnings), never a silent skip."""
    import warnings

    import numpy as np
    from PIL import Image

    from gankit.errors import GankitWarning

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(32):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    cfg = build_config(sets=["data.dataset=folder", f"data.path={folder}", "model.g_width=8", "model.d_width=8",
                             "train.batch_size=16", "train.epochs=2", "train.progress=false", "train.tensorboard=false",
                             "train.eval_every=1", "train.early_stop_patience=2"])
    run = create_run_dir(tmp_path / "runs", "noeval")
    run.write_config(cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = train(cfg, run)
    said = [str(w.message) for w in caught if issubclass(w.category, GankitWarning) and "eval_every" in str(w.message)]
    # 32 images: too few for an evaluator of their own (a larger folder gets one: tests/launch/test_start.py)
    assert said == ["train.eval_every=1: 32 images are too few for an evaluator (at least 200), so this run has no "
                    "periodic FID, no checkpoints/best.safetensors and train.early_stop_patience will never fire; set "
                    "train.eval_every=0 to silence this"]
    assert summary["step"] == 4 and not run.best_checkpoint.exists() and not run.evals_file.exists()
    assert [e["message"] for e in run.events() if e["event"] == "warning" and "eval_every" in e["message"]] == said
