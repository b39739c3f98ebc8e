"""End to end on a few hundred real Fashion-MNIST images with a tiny model: train, the run
directory's contents, interrupt + resume, generate from the run."""

import json
import os
import signal
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_runs import whole_and_resumed

from gankit.cli import main
from gankit.launch.presets import build_config
from gankit.launch.start import start_run
from gankit.runs.checkpoint import load_state
from gankit.runs.layout import create_run_dir, read_jsonl
from tiny_runs import resolved_train as train

TINY = ["data.limit=256", "model.g_width=8", "model.d_width=8", "train.batch_size=32",
        "train.log_every=2", "train.progress=false"]


@pytest.fixture
def tiny_run(tmp_path, fashion_dir):
    cfg = build_config(sets=TINY + ["train.epochs=2"])
    # the one way to start a run: pre-flight, run directory, config.json written once, train()
    return start_run(cfg, out=tmp_path / "runs", name="smoke", data_dir=str(fashion_dir), announce=False)


def test_run_directory_holds_everything(tiny_run):
    run, summary = tiny_run
    assert summary["step"] == 2 * (256 // 32) and not summary["interrupted"]
    rows = run.stats()
    assert [r["step"] for r in rows] == list(range(2, 17, 2))
    for col in ("epoch", "images_seen", "d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake",
                "g_fool_rate", "img_per_s", "grad_norm_d", "grad_norm_g"):
        assert col in rows[-1], col
    assert all(0.0 <= r["d_acc_real"] <= 1.0 for r in rows)
    assert rows[-1]["images_seen"] == 16 * 32
    # what the collapse monitor saw, in every row from the first (its warm-up only delays judging)
    assert all({"diversity_ratio", "nn_ratio", "near_duplicates"} <= set(r) for r in rows)
    grids = sorted(p.name for p in run.samples.iterdir())
    # the default is conditional on labelled data: a grid of one row per class beside the fixed one
    assert grids == ["classes_e0001.png", "classes_e0002.png", "fixed_e0001.png", "fixed_e0002.png"]
    w, h = Image.open(run.samples / "fixed_e0002.png").size
    assert w >= 8 * 28 and h >= 8 * 28  # the 64-image fixed grid is 8 x 8
    for name in ("losses.png", "accuracy.png", "collapse.png"):
        assert (run.plots / name).stat().st_size > 1000
    assert any(p.name.startswith("events.out.tfevents") for p in (run.path / "tb").iterdir())
    html = (run.path / "report.html").read_text()
    assert "data:image/png;base64" in html and "Samples over time" in html
    state = load_state(run.last_checkpoint)
    assert state["step"] == 16 and state["config"] == json.loads(run.config_file.read_text())


def test_generate_rebuilds_the_model_from_the_checkpoint_alone(tiny_run, tmp_path):
    run, _ = tiny_run
    npz = tmp_path / "s.npz"
    assert main(["generate", str(run.path), "--n", "10", "--npz", str(npz), "--seed", "3"]) == 0
    a = np.load(npz)["images"]
    assert a.shape == (10, 28, 28, 1) and a.dtype == np.uint8
    assert main(["generate", str(run.path), "--n", "10", "--npz", str(npz), "--seed", "3"]) == 0
    assert np.array_equal(a, np.load(npz)["images"])  # same seed, same images
    grid = tmp_path / "g.png"
    assert main(["generate", str(run.path), "--n", "16", "--grid", str(grid)]) == 0
    assert Image.open(grid).size[0] > 4 * 28
    out = tmp_path / "pngs"
    assert main(["generate", str(run.path), "--n", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "000002.png"]


def test_interrupt_then_resume_reaches_the_same_step_and_keeps_logs(tmp_path, fashion_dir, capsys):
    cfg = build_config(sets=TINY + ["train.epochs=10"])
    run = create_run_dir(tmp_path / "runs", "resume")
    run.write_config(cfg)
    # a SIGINT shortly after training starts: the loop finishes its step, saves, returns
    timer = threading.Timer(2.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        first = train(cfg, run, data_dir=str(fashion_dir))
    finally:
        timer.cancel()
    total = 10 * 8  # 10 epochs of 8 steps: long enough that the signal lands mid-run on a loaded machine
    if not first["interrupted"] or first["step"] == total:
        pytest.skip("the machine was too fast to interrupt mid-run")
    stopped = first["step"]
    assert 0 < stopped < total
    assert load_state(run.last_checkpoint)["step"] == stopped
    seconds_before = load_state(run.last_checkpoint)["seconds"]
    rows_before = run.stats()
    capsys.readouterr()
    assert main(["train", "--resume", str(run.path)]) == 0
    assert load_state(run.last_checkpoint)["step"] == total
    # the run's step, and the seconds of this session alone
    assert f"done: at step {total}, this session " in capsys.readouterr().out
    rows = run.stats()
    assert rows[: len(rows_before)] == rows_before  # earlier logs kept as they were
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == total
    # a row's time is the run's training seconds, earlier sessions included (the report's header)
    times = [r["time"] for r in rows]
    assert times == sorted(times) and rows[len(rows_before)]["time"] > seconds_before > 0
    assert any(e["event"] == "resume" for e in run.events())


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, fashion_dir):
    sets = TINY + ["data.limit=128", "train.checkpoint_every=1", "train.tensorboard=false"]
    a, b = whole_and_resumed(tmp_path / "r", sets, str(fashion_dir))
    for k, v in a.G.state_dict().items():
        assert torch.equal(v, b.G.state_dict()[k]), k
    # a row's time counts the first session's seconds too: the log's clock never restarts
    times = [r["time"] for r in b.run.stats()]
    assert len(times) >= 2 and times == sorted(times)


def test_cli_train_dry_run_and_errors(capsys, tmp_path):
    assert main(["train", "--dry-run", "--set", "train.batch_size=16"]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["batch_size"] == 16
    assert main(["train", "--set", "loss.name=nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "\n" not in err and "loss.name" in err
    assert not any(tmp_path.iterdir())  # a rejected config creates no run directory


def test_evaluate_writes_metrics_and_the_report_shows_them(tiny_run, shared_cache, capsys):
    run, _ = tiny_run
    assert main(["evaluate", str(run.path), "--n", "200"]) == 0
    out = capsys.readouterr().out
    assert "FID" in out and "real-vs-real floor" in out
    m = json.loads((run.path / "metrics.json").read_text())
    assert m["n"] == 200 and m["fid"] > m["floor_fid"] >= 0  # an 8-channel 16-step G is far from real data
    assert 0 <= m["precision"] <= 1 and m["step"] == 16
    assert "Evaluation" in (run.path / "report.html").read_text()


def test_periodic_evaluation_keeps_the_best_checkpoint(tmp_path, fashion_dir, shared_cache):
    cfg = build_config(sets=TINY + ["train.epochs=2", "train.eval_every=1", "train.eval_n=100",
                                    "train.tensorboard=false"])
    run = create_run_dir(tmp_path / "runs", "evals")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    evals = [json.loads(line) for line in (run.path / "evals.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in evals] == [1.0, 2.0] and all(e["fid"] > 0 for e in evals)
    best = load_state(run.checkpoints / "best.safetensors")
    best_step = min(evals, key=lambda e: e["fid"])["step"]
    assert best["step"] == best_step
    assert (run.plots / "fid.png").is_file()


def test_the_g_step_shows_d_the_same_instance_noise_as_the_d_step(tmp_path, fashion_dir, monkeypatch):
    import gankit.training.state

    seen, fakes = [], []
    build = gankit.training.state.build_models

    def hooked(*args):
        G, D = build(*args)
        D.register_forward_pre_hook(
            lambda m, a: seen.append((next(m.parameters()).requires_grad, a[0].detach().clone())))
        G.register_forward_hook(lambda m, a, out: fakes.append(out.detach().clone()))
        return G, D

    monkeypatch.setattr(gankit.training.state, "build_models", hooked)
    cfg = build_config(sets=TINY + ["train.max_steps=1", "loss.instance_noise=0.5", "train.tensorboard=false"])
    run = create_run_dir(tmp_path / "runs", "noise")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    (_, d_real), (_, d_fake), (trainable, g_view) = seen[:3]
    assert not trainable  # the G step runs D frozen
    fake = fakes[0]
    # at step 0 the noise std is 0.5 in both steps: G is judged on what D was trained on
    assert (d_fake - fake).std().item() == pytest.approx(0.5, rel=0.05)
    assert (g_view - fake).std().item() == pytest.approx(0.5, rel=0.05)


def test_linear_decay_reaches_zero_at_the_last_g_step_with_n_critic(tmp_path, fashion_dir):
    cfg = build_config(sets=TINY + ["train.max_steps=5", "train.n_critic=2", "optim.lr_decay=linear",
                                    "train.log_every=1", "train.tensorboard=false"])
    run = create_run_dir(tmp_path / "runs", "decay")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    lr = {r["step"]: r["lr_g"] for r in run.stats()}
    # G steps after D steps 2 and 4: two of them, so halfway after the first and 0 after the last
    assert lr[2] == pytest.approx(cfg.optim.g_lr / 2) and lr[4] == 0.0 and lr[5] == 0.0


def _scripted_fids(monkeypatch, fids):
    from gankit.training.monitor import TrainingMonitor

    def evaluate(self, G, step, epoch, device):
        self.run.append(self.run.evals_file, {"step": step, "epoch": epoch, "fid": fids[step]})
        return fids[step]

    monkeypatch.setattr(TrainingMonitor, "evaluate", evaluate)


def test_resume_keeps_the_best_fid_and_drops_rows_logged_after_the_checkpoint(tmp_path, fashion_dir, monkeypatch):
    _scripted_fids(monkeypatch, {8: 10.0, 16: 20.0})  # epoch 2 is worse than epoch 1
    sets = TINY + ["train.eval_every=1", "train.tensorboard=false"]
    cfg = build_config(sets=sets + ["train.epochs=1"])
    run = create_run_dir(tmp_path / "runs", "best")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    assert load_state(run.checkpoints / "best.safetensors")["step"] == 8
    # a run that died after logging step 12 but before its next checkpoint
    run.append(run.evals_file, {"step": 12, "epoch": 1.5, "fid": 1.0})
    run.append(run.stats_file, {"step": 12, "epoch": 1.5})
    cfg.train.epochs = 2
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir), resume=True)
    assert load_state(run.checkpoints / "best.safetensors")["step"] == 8  # 20 > 10: not the best
    assert load_state(run.last_checkpoint)["best_fid"] == 10.0
    assert [r["step"] for r in read_jsonl(run.evals_file)] == [8, 16]
    assert [r["step"] for r in run.stats()] == list(range(2, 17, 2))


def test_a_grid_taken_mid_epoch_does_not_overwrite_the_epochs_grid(tmp_path, fashion_dir):
    cfg = build_config(sets=TINY + ["train.epochs=1", "train.tensorboard=false"])
    run = create_run_dir(tmp_path / "runs", "grids")
    run.write_config(cfg)
    train(cfg, run, data_dir=str(fashion_dir))
    epoch_grid = (run.samples / "fixed_e0001.png").read_bytes()
    cfg.train.epochs, cfg.train.max_steps = 2, 12  # stops halfway through epoch 2
    train(cfg, run, data_dir=str(fashion_dir), resume=True)
    assert (run.samples / "fixed_e0001.png").read_bytes() == epoch_grid
    assert sorted(p.name for p in run.samples.iterdir()) == ["classes_e0001.png", "classes_s0000012.png",
                                                             "fixed_e0001.png", "fixed_s0000012.png"]


def test_conditional_on_unlabelled_images_fails_before_a_run_directory_exists(tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(40):
        Image.fromarray(np.full((28, 28), i * 6, dtype=np.uint8)).save(flat / f"{i}.png")
    out = tmp_path / "runs"
    assert main(["train", "--set", "data.dataset=folder", "--set", f"data.path={flat}", "--set",
                 "model.conditional=true", "--set", "train.batch_size=8", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "model.conditional" in err and err.count("\n") == 1
    assert not out.exists() or not any(p.name[0].isdigit() for p in out.iterdir())


@pytest.mark.parametrize("labelled", [True, False])
def test_conditional_auto_follows_the_data_and_the_run_records_which(tmp_path, fashion_dir, labelled):
    if labelled:
        data = ["--data-dir", str(fashion_dir), "--set", "data.limit=64"]
    else:
        flat = tmp_path / "flat"
        flat.mkdir()
        for i in range(40):
            Image.fromarray(np.full((28, 28), i * 6, dtype=np.uint8)).save(flat / f"{i}.png")
        data = ["--set", "data.dataset=folder", "--set", f"data.path={flat}"]
    out = tmp_path / "runs"
    assert main(["train", *data, "--set", "model.conditional=auto", "--set", "train.batch_size=8",
                 "--set", "train.max_steps=1", "--set", "model.g_width=8", "--set", "model.d_width=8",
                 "--set", "train.tensorboard=false", "--out", str(out)]) == 0
    run = out / "0001-dcgan"
    assert json.loads((run / "config.json").read_text())["model"]["conditional"] is labelled
    state = load_state(run / "checkpoints" / "last.safetensors")
    assert state["config"]["model"]["conditional"] is labelled  # the checkpoint rebuilds the same G
    assert ("embed.weight" in state["G"]) is labelled


def fake_clock(monkeypatch) -> None:
    """Each perf_counter call is 0.1 s later: a budget runs out after a known amount of work."""
    import gankit.training.clock

    clock = {"t": 0.0}

    def tick():
        clock["t"] += 0.1
        return clock["t"]

    monkeypatch.setattr(gankit.training.clock.time, "perf_counter", tick)


def test_a_budget_ends_training_with_the_final_grid_and_checkpoint(tmp_path, fashion_dir, monkeypatch):
    fake_clock(monkeypatch)
    # ada off: its extra plot (ada.png) makes more perf_counter calls, each a tick of the fake clock
    cfg = build_config(sets=TINY + ["train.epochs=50", "train.budget=2s", "train.tensorboard=false", "train.ada=false"])
    run = create_run_dir(tmp_path / "runs", "budget")
    run.write_config(cfg)
    summary = train(cfg, run, data_dir=str(fashion_dir))
    state = load_state(run.last_checkpoint)
    assert 0 < summary["step"] < 50 * 8 and state["step"] == summary["step"]  # stopped long before 50 epochs
    assert state["seconds"] >= 2.0  # the time spent is in the checkpoint: a resumed run keeps counting it
    events = run.events()
    assert events[-1]["event"] == "budget_spent"
    last_grid = [e for e in events if e["event"] == "samples"][-1]
    assert last_grid["step"] == summary["step"]  # the final grid is of the final weights

    # resuming with the budget spent trains nothing more; a larger budget continues
    assert train(cfg, run, data_dir=str(fashion_dir), resume=True)["step"] == summary["step"]
    cfg.train.budget = "8s"  # room for the resume's own start and plots, each call a tick of the fake clock
    assert train(cfg, run, data_dir=str(fashion_dir), resume=True)["step"] > summary["step"]


def test_linear_lr_decay_under_a_budget_follows_the_clock_to_zero(tmp_path, fashion_dir, monkeypatch):
    """With train.budget, lr_decay=linear reaches 0 when the budget is spent, not after the
    (never reached) last step of train.epochs; without decay the lr stays put."""
    rows = {}
    for decay in ("linear", "none"):
        fake_clock(monkeypatch)
        cfg = build_config(sets=TINY + ["train.epochs=50", "train.budget=3s", "train.log_every=1",
                                        "train.tensorboard=false", f"optim.lr_decay={decay}", "optim.g_lr=1e-3"])
        run = create_run_dir(tmp_path / "runs", decay)
        run.write_config(cfg)
        train(cfg, run, data_dir=str(fashion_dir))
        rows[decay] = [r["lr_g"] for r in run.stats() if "lr_g" in r]
    lin = rows["linear"]
    assert lin[0] > 0.7e-3 and lin[-1] < 0.25e-3  # from near the base lr to near 0 within the budget
    assert lin == sorted(lin, reverse=True)
    # by steps alone (50 epochs of 8 steps) the lr would still be above 0.9e-3 here
    assert len(lin) < 0.1 * 50 * 8
    assert set(rows["none"]) == {1e-3}


def test_bf16_mixed_precision_trains_in_bf16_and_keeps_fp32_weights(tmp_path, fashion_dir, monkeypatch):
    import gankit.training.loop as train_mod

    cfg = build_config(sets=TINY + ["train.epochs=1", "train.amp=bf16", "train.tensorboard=false"])
    run = create_run_dir(tmp_path / "runs", "bf16")
    run.write_config(cfg)
    dtypes = []
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype) if isinstance(m, torch.nn.Conv2d) else None)
    real_autocast = train_mod.autocast
    asked = []
    monkeypatch.setattr(train_mod, "autocast", lambda kind, device: asked.append(kind) or real_autocast(kind, device))
    try:
        summary = train(cfg, run, data_dir=str(fashion_dir))
    finally:
        hook.remove()
    assert set(asked) == {"bf16"} and torch.bfloat16 in dtypes  # D's convolutions ran in bf16
    rows = run.stats()
    assert summary["step"] == 8 and all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)
    state = load_state(run.last_checkpoint)
    assert all(v.dtype == torch.float32 for v in state["G"].values() if v.is_floating_point())


def test_compile_trains_through_compiled_networks_and_saves_plain_ones(tmp_path, fashion_dir, monkeypatch):
    # the "eager" backend traces with TorchDynamo like the default one, without the C++ build
    compiled, real_compile = [], torch.compile
    monkeypatch.setattr(torch, "compile", lambda net: compiled.append(type(net).__name__) or real_compile(net, backend="eager"))
    states = {}
    for on in (False, True):
        cfg = build_config(sets=TINY + ["train.epochs=1", f"train.compile={str(on).lower()}", "train.tensorboard=false"])
        run = create_run_dir(tmp_path / "runs", f"compile-{on}")
        run.write_config(cfg)
        train(cfg, run, data_dir=str(fashion_dir))
        states[on] = load_state(run.last_checkpoint)
    assert compiled == ["Generator", "Discriminator", "Discriminator"]  # G, D (D step), D (G step)
    for net in ("G", "D", "G_ema"):
        assert states[True][net].keys() == states[False][net].keys()  # no _orig_mod. prefixes
        assert all(torch.allclose(states[True][net][k], states[False][net][k], atol=1e-6) for k in states[False][net])


def test_simultaneous_update_takes_g_gradient_against_d_before_its_step(tmp_path, fashion_dir):
    # alternating: D steps, then G's gradient is taken against the updated D; simultaneous (the
    # TF tutorial): against D as it was.  With a D lr too small to move a float32 weight, the
    # alternating G step sees the old D.
    def one_step(*sets):
        cfg = build_config(sets=TINY + ["train.max_steps=1", "train.ema=false", "train.tensorboard=false", *sets])
        run = create_run_dir(tmp_path / "runs", "u")
        run.write_config(cfg)
        train(cfg, run, data_dir=str(fashion_dir))
        return load_state(run.last_checkpoint)

    sim, alt = one_step("train.update=simultaneous"), one_step()
    alt_frozen_d = one_step("optim.d_lr=1e-30")
    same = lambda a, b: all(torch.allclose(a[k], b[k], atol=1e-7) for k in a)  # noqa: E731
    assert same(sim["D"], alt["D"])  # D's own step is the same either way
    assert same(sim["G"], alt_frozen_d["G"]) and not same(sim["G"], alt["G"])


def test_train_refuses_an_unresolved_config(tmp_path):
    """train() takes the pre-flight's resolved config only: an `auto` left is a caller's bug, said at once,
    before any data loads or anything is written."""
    from gankit.launch.presets import build_config
    from gankit.runs.layout import create_run_dir
    from gankit.training.loop import train as loop_train

    cfg = build_config()  # the default preset: conditional, d_width, ada and diffaugment are auto
    run = create_run_dir(tmp_path, "unresolved")
    with pytest.raises(ValueError, match="train\\(\\) needs a resolved config, got model.d_width=auto"):
        loop_train(cfg, run, data_dir=str(tmp_path / "nowhere"))
    assert not any(run.path.rglob("*.jsonl")) and not run.last_checkpoint.exists()
