"""Checkpoints: nested state round trip, identical model outputs after reload, atomic writes."""

import pytest
import torch

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.dcgan import build_dcgan
from gankit.runs.checkpoint import load_state, save_state


def test_nested_state_round_trips_exactly(tmp_path):
    G, D = build_dcgan(ModelConfig(g_width=8, d_width=8), (1, 28, 28), 1)
    opt = torch.optim.Adam(G.parameters(), 1e-3)
    G(torch.randn(4, 100)).mean().backward()
    opt.step()
    state = {"step": 7, "G": G.state_dict(), "opt": opt.state_dict(), "rng": torch.get_rng_state(),
             "names": ["a", "b"], "nothing": None, "flag": True, "x": 0.5}
    save_state(state, tmp_path / "c.safetensors")
    back = load_state(tmp_path / "c.safetensors")
    assert back["step"] == 7 and back["names"] == ["a", "b"] and back["nothing"] is None
    assert back["flag"] is True and back["x"] == 0.5
    assert torch.equal(back["rng"], state["rng"])
    for k, v in state["G"].items():
        assert torch.equal(back["G"][k], v), k
    opt2 = torch.optim.Adam(G.parameters(), 1e-3)
    opt2.load_state_dict(back["opt"])  # int-keyed optimiser state survives
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_reloaded_generator_gives_identical_outputs(tmp_path):
    cfg = ModelConfig(g_width=8, d_width=8)
    G, _ = build_dcgan(cfg, (1, 28, 28), 1)
    G.eval()
    save_state({"G": G.state_dict()}, tmp_path / "g.safetensors")
    G2, _ = build_dcgan(cfg, (1, 28, 28), 1)
    G2.load_state_dict(load_state(tmp_path / "g.safetensors")["G"])
    G2.eval()
    z = torch.randn(5, 100)
    assert torch.equal(G(z), G2(z))


def test_no_temporary_file_is_left_and_old_checkpoint_survives_a_failed_save(tmp_path):
    path = tmp_path / "last.safetensors"
    save_state({"step": 1, "w": torch.ones(2)}, path)
    with pytest.raises(TypeError):
        save_state({"step": 2, "bad": object()}, path)
    assert load_state(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors"]


def test_corrupt_or_foreign_files_give_a_clear_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(GankitError, match="not a readable checkpoint"):
        load_state(bad)
    with pytest.raises(GankitError, match="no checkpoint"):
        load_state(tmp_path / "missing.safetensors")
