"""bench/peers.py (`make bench-peers`) end to end at a few seconds a peer: every peer trains to
each mark, continues between marks, samples, and is scored by the same `gankit evaluate
--images`; and the peers' recipes do what their sources say."""

import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))


@pytest.mark.slow  # about a minute: `make test-slow` installs bench/requirements-peers.txt
def test_peers_train_to_each_mark_sample_and_are_scored_alike(tmp_path, shared_cache):
    pytest.importorskip("diffusers")
    import peers

    out = peers.main(["--minutes", "0.05,0.1", "--n", "40", "--datasets", "fashion-mnist", "--out", str(tmp_path)])
    rows = json.loads((out / "results.json").read_text())
    assert [(r["peer"], r["minutes"]) for r in rows] == [
        (p, m) for p in ("gankit", "diffusers-ddpm", "examples-dcgan") for m in (0.05, 0.1)]
    for first, second in zip(rows[::2], rows[1::2]):
        assert second["steps"] > first["steps"] >= 1  # the second mark continues the first
        assert second["train_seconds"] >= 6.0 and first["train_seconds"] >= 3.0
    for r in rows:
        assert r["n"] == 40 and r["fid"] > r["floor_fid"] > 0 and r["sample_seconds"] > 0
        npz = out / "fashion-mnist" / f"{r['peer']}-{r['minutes']:g}min.npz"
        assert npz.is_file() and npz.with_suffix(".png").is_file()
    assert "| fashion-mnist | 0.1 | diffusers-ddpm |" in (out / "results.md").read_text()


@pytest.mark.slow
def test_the_examples_dcgan_is_64_px_with_its_published_nets_and_the_ddpm_keeps_the_data_size():
    pytest.importorskip("diffusers")
    from peer_recipes import DiffusersDDPM, ExamplesDCGAN

    dcgan = ExamplesDCGAN(channels=1)
    assert dcgan.sample(3).shape == (3, 1, 64, 64)
    assert dcgan.opt_g.defaults["lr"] == 2e-4 and dcgan.opt_g.defaults["betas"] == (0.5, 0.999)
    assert sum(p.numel() for p in dcgan.G.parameters()) == 3_574_656  # nz 100, ngf 64, one channel
    images = torch.randint(0, 256, (128, 1, 28, 28), dtype=torch.uint8)
    before = [p.clone() for p in dcgan.D.parameters()]
    dcgan.train(images, None, until=0.01)
    assert dcgan.steps >= 1 and any(not torch.equal(a, b) for a, b in zip(before, dcgan.D.parameters()))
    ddpm = DiffusersDDPM(channels=1, n_classes=10)
    ddpm.sample_steps = 2
    assert ddpm.prepare(images).shape == (128, 1, 32, 32) and ddpm.prepare(images)[0, 0, 0, 0] == -1.0
    assert ddpm.sample(2).shape == (2, 1, 28, 28)  # the padding taken off again
