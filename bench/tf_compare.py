"""gankit's tf-dcgan step against TensorFlow's own DCGAN tutorial step, side by side (`make bench-tf`).

TensorFlow runs in its own venv (`.venv-tf`, tensorflow-cpu, made by `make bench-tf`) as a
subprocess (bench/tf_dcgan.py); gankit's `tf-dcgan` preset and the plain PyTorch loop on the
same networks run in this process.  Rounds alternate TF, gankit and plain, so the machine's
load hits all alike; the result is the ratio of the best rates.

    python bench/tf_compare.py [--tf-python .venv-tf/bin/python] [--steps 30] [--rounds 3]
        [--set train.threads=2 ...]  (applied to gankit's loop)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from gankit.launch.presets import build_config

sys.path.insert(0, str(Path(__file__).parent))
from throughput import QUIET, PlainLoop, data_for, gankit_seconds  # noqa: E402


def tf_rate(python: str, steps: int) -> dict:
    out = subprocess.run([python, str(Path(__file__).parent / "tf_dcgan.py"), "--steps", str(steps)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf-python", default=".venv-tf/bin/python")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    args = ap.parse_args()
    cfg = build_config(preset="tf-dcgan", sets=QUIET)
    data, _ = data_for(cfg, None)
    plain = PlainLoop(cfg, data)
    plain.seconds(2)
    bs = cfg.train.batch_size
    rates = {"tensorflow": [], "gankit": [], "plain": []}
    tf_info = {}
    with tempfile.TemporaryDirectory() as out:
        gankit_seconds("tf-dcgan", args.sets, data, 2, out)  # warm-up
        for _ in range(args.rounds):
            tf_info = tf_rate(args.tf_python, args.steps)
            rates["tensorflow"].append(tf_info["img_per_s"])
            rates["gankit"].append(args.steps * bs / gankit_seconds("tf-dcgan", args.sets, data, args.steps, out))
            rates["plain"].append(args.steps * bs / plain.seconds(args.steps))
    best = {k: max(v) for k, v in rates.items()}
    print(f"TF DCGAN tutorial step, batch {bs}, {args.rounds} rounds x {args.steps} steps; TensorFlow "
          f"{tf_info.get('tensorflow')}, PyTorch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"gankit sets: {args.sets or 'none'}")
    for k, v in rates.items():
        print(f"  {k:10s} best {best[k]:7.1f} img/s   all {[round(x) for x in v]}")
    print(f"  gankit / tensorflow: {best['gankit'] / best['tensorflow']:.2f}   "
          f"plain / tensorflow: {best['plain'] / best['tensorflow']:.2f}")


if __name__ == "__main__":
    main()
