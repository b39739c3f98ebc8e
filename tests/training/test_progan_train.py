"""ProGAN through the loop on real Fashion-MNIST: the stats rows follow the growth schedule
(resolution up, alpha 0 -> 1 in each fade), the report shows it, and everything that
rebuilds G from the run (load_run, generate, export) samples at the stage training reached."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.launch.presets import build_config
from gankit.runs.layout import create_run_dir
from gankit.runs.load import load_generator, load_run
from tiny_runs import resolved_train as train

# 96 images at batch 16: 6 steps an epoch, 2 epochs; grow_steps=4: 7 px for steps 0-3,
# 14 px from step 4 (fading over 2 steps), 28 px from step 8
SETS = ["data.limit=96", "train.batch_size=16", "train.epochs=2", "model.grow_steps=4", "model.g_width=4",
        "model.d_width=4", "model.z_dim=16", "train.log_every=1", "train.progress=false", "train.tensorboard=false"]


def test_progan_grows_through_the_loop_and_samples_at_its_last_stage(tmp_path, fashion_dir):
    cfg = build_config(preset="progan", sets=SETS)
    run = create_run_dir(tmp_path, "progan")
    run.write_config(cfg)
    assert train(cfg, run, data_dir=str(fashion_dir))["step"] == 12
    rows = run.stats()
    # row s describes step s - 1 (the step just taken)
    assert [r["resolution"] for r in rows] == [7] * 4 + [14] * 4 + [28] * 4
    assert [r["alpha"] for r in rows] == [1.0] * 4 + [0.0, 0.5, 1.0, 1.0] * 2
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)

    html = (run.path / "report.html").read_text()
    assert "resolution <b>28 px</b> (fade-in alpha 1.0)" in html
    assert (run.plots / "resolution.png").is_file()

    loaded = load_run(run.path)  # the EMA G (the preset keeps one), at the stage it was trained to
    assert (loaded.G.resolution, loaded.G.alpha, loaded.D.resolution) == (28, 1.0, 28)
    out = tmp_path / "g.npz"
    assert main(["generate", str(run.path), "--n", "6", "--npz", str(out)]) == 0
    images = np.load(out)["images"]
    assert images.shape == (6, 28, 28, 1) and images.std() > 0
    # a 28 px image, not a 14 px one upsampled: not every 2 x 2 block is flat
    assert (images[:, ::2, ::2] != images[:, 1::2, 1::2]).any()

    assert main(["export", str(run.path), "--out", str(tmp_path / "export")]) == 0
    exported = load_generator(tmp_path / "export")
    assert exported.G.resolution == 28
    z = torch.randn(3, 16)
    assert torch.equal(exported.G(z), loaded.G(z))
    assert json.loads((run.path / "config.json").read_text())["model"]["grow_steps"] == 4


@pytest.mark.slow  # 10-40 s: `make test-slow` (the default suite stays under 10 minutes)
def test_progan_trains_under_torchrun(tmp_path, fashion_dir):
    # each stage leaves the other stages' layers without gradients: DDP must be told to look
    # for unused parameters (distributed.wrap), or the second step fails
    torchrun = Path(sys.executable).parent / "torchrun"
    args = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "gankit", "train", "--preset", "progan",
            "--data-dir", str(fashion_dir), "--out", str(tmp_path), "--set", "train.batch_size=16",
            "--set", "train.max_steps=6", *(f"--set={s}" for s in SETS if "batch_size" not in s)]
    res = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["resolution"] for r in rows] == [7] * 4 + [14] * 2
