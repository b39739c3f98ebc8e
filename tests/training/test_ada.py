"""Adaptive augmentation (training/ada.py, `train.ada`): p rises while D is sure of the real images
and falls while it is not, the G step sees what the D step sees, p lives in stats.jsonl and in
the checkpoint (a resume continues exactly), and the losses it cannot serve are refused."""

from __future__ import annotations

import pytest
import torch
from tiny_runs import whole_and_resumed

from gankit.launch.start import resolve
from gankit.cli import main
from gankit.launch.presets import build_config
from gankit.runs.layout import read_jsonl
from gankit.training import ada, objectives
from gankit.training.loop import ada_update
from gankit.training.state import TrainingState

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=16", "train.progress=false",
        "train.tensorboard=false", "train.ema=false"]


def state_for(sets: list[str]) -> TrainingState:
    from gankit.data import ImageData

    cfg = build_config(sets=TINY + sets)
    data = ImageData(torch.zeros(32, 1, 28, 28, dtype=torch.uint8), torch.zeros(32, dtype=torch.long), [], "toy")
    return TrainingState.create(resolve(cfg, data), data, "cpu", 100)


def test_p_rises_while_d_is_sure_of_the_real_images_and_falls_while_it_is_not():
    from gankit.runtime.distributed import Dist

    state = state_for(["train.ada=true", "train.ada_kimg=1"])
    for step in range(40):  # D says "real" to every real image: r_t = 1 > 0.6
        state.step = step
        ada_update(state, torch.full((16,), 3.0), Dist())
    risen = state.ada.p
    assert risen == pytest.approx(10 * 64 / 1000)  # ten updates of +64 images / 1,000
    for step in range(40, 80):  # D at chance on fresh images: r_t = 0 < 0.6
        state.step = step
        ada_update(state, torch.tensor([1.0, -1.0] * 8), Dist())
    assert state.ada.p == pytest.approx(0.0, abs=1e-12) and risen > 0


def test_ada_augment_applies_each_op_with_probability_p():
    torch.manual_seed(0)
    x = torch.rand(256, 3, 16, 16) * 2 - 1
    assert torch.equal(ada.ada_augment(x, 0.0), x)
    changed = (ada.ada_augment(x, 0.3) != x).flatten(1).any(1).float().mean()
    assert 0.4 < changed < 0.8  # 1 - 0.7^3 = 0.66 of the images get at least one op
    assert (ada.ada_augment(x, 1.0) != x).flatten(1).any(1).all()


def test_the_g_step_sees_the_d_steps_view(tmp_path, fashion_dir, monkeypatch):
    from gankit.launch.start import start_run
    from gankit.training import loop

    seen: dict[int, list[float]] = {}
    real_call = objectives.DView.__call__

    def spy(self, x, step, ada_p=0.0):
        seen.setdefault(step, []).append(ada_p)
        return real_call(self, x, step, ada_p)

    monkeypatch.setattr(objectives.DView, "__call__", spy)
    monkeypatch.setattr(loop, "adjusted", lambda p, r_t, target, images, kimg: p + 0.25)  # p moves every 4 steps
    cfg = build_config(sets=TINY + ["data.limit=64", "train.ada=true", "train.max_steps=12", "train.epochs=10"])
    start_run(cfg, out=tmp_path, data_dir=str(fashion_dir), announce=False)
    # each step: D's real and fake views and G's view, all with the same p
    assert [seen[s] for s in (0, 3, 4, 8, 11)] == [[0.0] * 3, [0.0] * 3, [0.25] * 3, [0.5] * 3, [0.5] * 3]


@pytest.mark.slow  # 15-30 s: `make test-slow` (the default suite stays under 10 minutes)
def test_a_memorised_set_raises_p_in_a_real_run_and_stats_show_it(tmp_path, fashion_dir):
    from gankit.launch.start import start_run

    cfg = build_config(sets=TINY + ["data.limit=32", "train.ada=true", "train.ada_kimg=1", "train.max_steps=80",
                                    "train.epochs=1000", "train.log_every=20",
                                    "train.sample_every=1000", "train.checkpoint_every=1000"])  # 2-step epochs
    run, _ = start_run(cfg, out=tmp_path, data_dir=str(fashion_dir), announce=False)
    ps = [row["ada_p"] for row in read_jsonl(run.stats_file)]
    assert len(ps) == 4 and ps[-1] > 0.1  # 32 images: D grows sure of them and p follows


def test_resume_with_ada_continues_exactly(tmp_path, fashion_dir):
    a, b = whole_and_resumed(tmp_path, TINY + ["data.limit=64", "train.ada=true", "train.ada_kimg=1"],
                             str(fashion_dir))
    assert a.state["ada"] == b.state["ada"] and a.state["ada"]["p"] > 0
    for k, v in a.G.state_dict().items():
        assert torch.equal(v, b.G.state_dict()[k]), k


@pytest.mark.parametrize("sets, message", [
    (["loss.name=wgan-gp"], "train.ada reads D's overfitting from the sign of its output on real images, which a "
                            "wgan-gp critic's output does not have"),
    (["loss.swap_labels=true"], "loss.swap_labels=true trains D the other way round"),
    (["train.diffaugment=color"], "train.ada applies the DiffAugment ops itself"),
])
def test_what_ada_cannot_serve_is_one_line(sets, message, capsys):
    argv = ["train", "--dry-run", "--set", "train.ada=true"] + [x for s in sets for x in ("--set", s)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err


def _toy(n: int):
    from gankit.data import ImageData

    return ImageData(torch.zeros(n, 1, 28, 28, dtype=torch.uint8), torch.arange(n) % 2, ["a", "b"], "toy")


@pytest.mark.parametrize("n, sets, on", [
    (3916, [], True), (9999, [], True), (10_000, [], False), (60_000, [], False),  # small data only
    # what it cannot serve: off
    (3916, ["loss.name=wgan-gp"], False), (3916, ["loss.name=ns", "loss.swap_labels=true"], False),
    (3916, ["train.diffaugment=color"], False),
    (60_000, ["train.ada=true"], True), (3916, ["train.ada=false"], False),  # a user's true/false stands
])
def test_auto_turns_ada_on_for_small_data_where_it_can_serve_and_the_config_records_it(n, sets, on, tmp_path):
    from gankit.launch.start import prepare

    cfg = build_config(sets=TINY + sets)  # the default preset: train.ada=auto
    assert "train.ada=" in " ".join(sets) or cfg.train.ada == "auto"
    cfg, _ = prepare(cfg, data=_toy(n))
    assert cfg.train.ada is on and cfg.to_dict()["train"]["ada"] is on  # config.json holds true or false


def test_a_small_default_run_records_ada_true_and_logs_p(tmp_path, fashion_dir):
    argv = ["train", "--data-dir", str(fashion_dir), "--out", str(tmp_path / "runs"), "--epochs", "1"] + \
        [x for s in TINY + ["data.limit=64"] for x in ("--set", s)]
    assert main(argv) == 0
    run = next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    import json
    assert json.loads((run / "config.json").read_text())["train"]["ada"] is True
    assert all("ada_p" in row for row in read_jsonl(run / "stats.jsonl"))
