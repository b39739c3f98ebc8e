"""Tiny real runs for the tests of what comes after training (synthetic datasets, latent walks,
CAS, privacy): a few steps of a small DCGAN on 256 real Fashion-MNIST images.  What those
tests check is plumbing and bookkeeping, which an untrained generator exercises as well as a
good one, so a handful of steps is enough and keeps each module's setup to seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist")  # as tests/conftest.py's fashion_dir
TINY = ["data.limit=256", "model.g_width=8", "model.d_width=8", "train.batch_size=32", "train.max_steps=4",
        "train.log_every=2", "train.progress=false", "train.tensorboard=false"]


def resolved_train(cfg, run, data_dir=None, resume=False, data=None, **kw):
    """train() as launch.start_run calls it: after the pre-flight has resolved every `auto` from the
    data (train() refuses an unresolved config), for tests that drive the loop directly."""
    from gankit.data import load_dataset
    from gankit.launch.start import resolve
    from gankit.training.loop import train

    data = data if data is not None else load_dataset(cfg.data, data_dir)
    resolve(cfg, data)
    return train(cfg, run, data_dir=data_dir, resume=resume, data=data, **kw)


def tiny_run(root: Path, conditional: bool, cache: Path):
    """Train a tiny run under `root` with `cache` as its gankit cache (module-scoped fixtures call
    this before the per-test cache isolation of conftest.py; they pass the session's
    `reference_cache`, never the user's); skips without the data."""
    from gankit.launch.presets import build_config
    from gankit.runs.layout import create_run_dir

    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(cache))
        mp.delenv("GANKIT_DATA", raising=False)
        cfg = build_config(sets=TINY + [f"model.conditional={str(conditional).lower()}"])
        run = create_run_dir(root, "cond" if conditional else "uncond")
        run.write_config(cfg)
        resolved_train(cfg, run, data_dir=str(FASHION))
    return run


def whole_and_resumed(root: Path, sets: list[str], data_dir: str, preset: str | None = None):
    """The same config trained for 2 epochs in one go and for 1 epoch then resumed to 2: the two
    runs, loaded (LoadedRun), for tests that resume is bit-identical."""
    from gankit.launch.presets import build_config
    from gankit.runs.layout import create_run_dir
    from gankit.runs.load import load_run

    whole_cfg = build_config(preset=preset, sets=sets + ["train.epochs=2"])
    whole = create_run_dir(root, "whole")
    whole.write_config(whole_cfg)
    resolved_train(whole_cfg, whole, data_dir=data_dir)
    cfg = build_config(preset=preset, sets=sets + ["train.epochs=1"])
    part = create_run_dir(root, "part")
    part.write_config(cfg)
    resolved_train(cfg, part, data_dir=data_dir)
    cfg.train.epochs = 2
    part.write_config(cfg)
    resolved_train(cfg, part, data_dir=data_dir, resume=True)
    return load_run(whole.path), load_run(part.path)
