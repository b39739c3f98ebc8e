"""state.py and rng.py: the whole training state saved and restored as one object."""

import pytest
import torch

from gankit.launch.start import resolve
from gankit.data import ImageData
from gankit.launch.presets import build_config
from gankit.runtime import rng
from gankit.training.state import TrainingState, g_steps

SETS = ["model.g_width=8", "model.d_width=8", "train.ema=true", "optim.lr_decay=linear"]


def _data(n=64):
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8)
    return ImageData(images, torch.arange(n) % 3, ["a", "b", "c"], "synthetic")


def _draws(state):
    return torch.rand(4), state.targets_rng.get_state().clone()


def test_state_dict_round_trip_restores_weights_rngs_step_and_best(tmp_path):
    cfg = build_config(sets=SETS)
    data = _data()
    a = TrainingState.create(resolve(cfg, data), data, "cpu", total_steps=10)
    a.step, a.best_fid = 7, 12.5
    torch.rand(3, generator=a.targets_rng)
    a.save(tmp_path / "s.safetensors")
    expected = torch.rand(4), torch.rand(2, generator=a.targets_rng)
    data30 = _data(30)
    b = TrainingState.create(resolve(build_config(sets=SETS + ["train.seed=9"]), data30), data30, "cpu", total_steps=10)
    held = b.prior  # the sampler and the training monitor keep this tensor
    assert b.load(tmp_path / "s.safetensors") == []
    assert held is b.prior and torch.equal(held, a.prior)
    assert torch.equal(torch.rand(4), expected[0])  # the device RNG continues where it was saved
    assert torch.equal(torch.rand(2, generator=b.targets_rng), expected[1])
    assert b.step == 7 and b.best_fid == 12.5
    assert torch.allclose(b.prior, torch.tensor([22 / 64, 21 / 64, 21 / 64], dtype=torch.float64))
    for k, v in a.G.state_dict().items():
        assert torch.equal(v, b.G.state_dict()[k])
    assert b.schedulers[0].state_dict()["last_epoch"] == a.schedulers[0].state_dict()["last_epoch"]


def test_cuda_rng_states_are_saved_and_restored(monkeypatch):
    # no GPU on the CI machine: torch.cuda's RNG functions stand in for a machine with two
    saved, restored = [torch.tensor([1, 2], dtype=torch.uint8), torch.tensor([3], dtype=torch.uint8)], []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: saved)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: restored.extend(states))
    states = rng.get_rng_states()
    assert [t.tolist() for t in states["cuda"]] == [[1, 2], [3]]
    assert rng.set_rng_states(states) == []
    assert [t.tolist() for t in restored] == [[1, 2], [3]]


def test_a_gpu_state_resumed_without_a_gpu_is_reported():
    states = rng.get_rng_states()
    states["cuda"] = [torch.tensor([1], dtype=torch.uint8)]
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert rng.set_rng_states(states) == ["cuda"]


@pytest.mark.parametrize("total,n_critic,expected", [(5, 1, 5), (5, 2, 2), (6, 2, 3), (7, 3, 2), (1, 2, 0)])
def test_g_steps_counts_steps_followed_by_a_g_step(total, n_critic, expected):
    assert g_steps(total, n_critic) == expected == sum((s + 1) % n_critic == 0 for s in range(total))


def test_rollback_overrides_live_in_the_state_and_survive_a_checkpoint(tmp_path):
    """What a rollback changes is the state's, not the config's: saved, restored, applied on a copy."""
    import torch

    from gankit.data import ImageData
    from gankit.launch.presets import build_config
    from gankit.training.state import TrainingState

    cfg = build_config(sets=["model.g_width=8", "model.d_width=8", "model.conditional=false"])
    data = ImageData(torch.zeros(64, 1, 28, 28, dtype=torch.uint8), torch.zeros(64, dtype=torch.long), [], "x")
    state = TrainingState.create(resolve(cfg, data), data, "cpu", total_steps=10)
    state.rollback.overrides = {"optim.g_lr": 1e-4, "loss.real_label": 0.9}
    eff = state.effective_config()
    assert eff.optim.g_lr == 1e-4 and eff.loss.real_label == 0.9
    assert cfg.optim.g_lr == build_config().optim.g_lr and cfg.loss.real_label == 1.0  # the run's config untouched
    state.save(tmp_path / "s.safetensors")
    fresh = TrainingState.create(resolve(cfg, data), data, "cpu", total_steps=10)
    fresh.load(tmp_path / "s.safetensors")
    assert fresh.rollback.overrides == {"optim.g_lr": 1e-4, "loss.real_label": 0.9}
