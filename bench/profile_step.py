"""Where a preset's training step spends its time: torch.profiler over a few gankit steps.

Prints the operators with the most self CPU time (convolutions and their backward passes,
Adam, batch norm, ...), and the same for the variants given with --try, side by side in
seconds per step, so a change that closes a gap is measured in the same process.

    python bench/profile_step.py [--preset tf-dcgan] [--steps 10] [--top 15]
        [--try train.compile=true] [--try train.threads=1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

from gankit.data import load_dataset
from gankit.launch.presets import build_config

sys.path.insert(0, str(Path(__file__).parent))
from epoch_time import seconds_per_step  # noqa: E402

QUIET = ["train.progress=false", "train.tensorboard=false", "train.sample_every=1000",
         "train.checkpoint_every=1000", "train.log_every=1000"]


def run_steps(preset: str, sets: list[str], data, steps: int, out: str) -> float:
    return seconds_per_step(build_config(preset=preset, sets=QUIET + sets), data, steps, out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="tf-dcgan")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--try", dest="tries", action="append", default=[], help="key=value[,key=value] variant")
    args = ap.parse_args()
    data = load_dataset(build_config(preset=args.preset).data)
    with tempfile.TemporaryDirectory() as out:
        run_steps(args.preset, [], data, 2, out)  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            base = run_steps(args.preset, [], data, args.steps, out)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
        print(f"{args.preset}: {base * 1000:.0f} ms per step under the profiler")
        variants = [("as shipped", [])] + [(t, t.split(",")) for t in args.tries]
        for name, sets in variants:
            run_steps(args.preset, sets, data, 2, out)
            s = run_steps(args.preset, sets, data, args.steps, out)
            print(f"  {name:40s} {s * 1000:7.0f} ms per step   {build_config(preset=args.preset).train.batch_size / s:7.1f} img/s")


if __name__ == "__main__":
    main()
