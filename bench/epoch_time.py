"""Seconds per epoch of each preset on this machine, measured over a window of steps.

Trains each preset for `--steps` steps on its real data (after `--warmup` steps that are
not timed) and extrapolates to one epoch: steps_per_epoch x seconds per step.  Full
epochs of the slow presets take up to an hour here, so the window is the measurement.

    python bench/epoch_time.py [--steps 40] [--warmup 5] [--presets dcgan,fashion-tf2]
        [--catdog-zip PATH] [--mnist-dir DIR] [--set KEY=VALUE ...]

`--set` applies to every listed preset, e.g. `--presets progan --set model.grow_steps=0` times
progan at its final resolution (0: the last stage from step 0).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from gankit.data import load_dataset
from gankit.launch.presets import build_config, preset_names
from gankit.launch.start import start_run


def seconds_per_step(cfg, data, steps: int, out: str) -> float:
    cfg.train.max_steps = steps
    t0 = time.perf_counter()
    start_run(cfg, out=out, data=data, announce=False)  # its pre-flight (milliseconds here) included
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--presets", default=",".join(preset_names()))
    ap.add_argument("--catdog-zip", default="../shared/datasets/cifar10-catdog.zip",
                    help="cifar-catdog runs on this zip when the CIFAR-10 binary is not present")
    ap.add_argument("--mnist-dir", default=None, help="data dir for MNIST (default: lookup order)")
    ap.add_argument("--mnist-split", default="train")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override for every preset (repeatable)")
    args = ap.parse_args()
    quiet = ["train.progress=false", "train.tensorboard=false", "train.sample_every=10000",
             "train.checkpoint_every=10000", "train.log_every=10"]
    print(f"{torch.get_num_threads()} threads; seconds per epoch = steps per epoch x seconds per step "
          f"(mean of {args.steps} steps after {args.warmup} warm-up steps)")
    print("| preset | batch | images/epoch | s/step | s/epoch | img/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as out:
        for name in args.presets.split(","):
            sets = list(quiet) + args.sets
            data_dir = None
            if name == "cifar-catdog":
                sets += ["data.dataset=folder", f"data.path={args.catdog_zip}"]
            if name == "mnist-study":
                sets += [f"data.split={args.mnist_split}"]
                data_dir = args.mnist_dir
            cfg = build_config(preset=name, sets=sets)
            data = load_dataset(cfg.data, data_dir)
            seconds_per_step(build_config(preset=name, sets=sets), data, args.warmup, out)
            s = seconds_per_step(cfg, data, args.steps, out)
            n = data.images.shape[0]
            # an epoch of the real dataset (mnist-study here may only have the 10k test split)
            full = {"mnist-study": 60000, "cifar-catdog": 10000}.get(name, n)
            steps = full // cfg.train.batch_size
            label = " ".join([name, *args.sets])
            print(f"| {label} | {cfg.train.batch_size} | {full} | {s:.3f} | {steps * s:.0f} | "
                  f"{cfg.train.batch_size / s:.0f} |", flush=True)


if __name__ == "__main__":
    main()
