"""Train a few technique switches on Fashion-MNIST with the same budget and tabulate them.

Each variant is the default preset plus --set items; every run is evaluated with the
shipped Fashion-MNIST evaluator.  Prints a markdown table (FID, precision, recall,
coverage, classes covered, img/s) with the path of each run's final sample grid.

    python bench/switch_table.py --epochs 2 --out runs/switches [--n 2000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

VARIANTS = {
    "default (ns, BN in G)": [],
    "EMA 0.99": ["train.ema=true", "train.ema_decay=0.99"],
    "hinge + spectral norm D": ["loss.name=hinge", "model.d_spectral_norm=true"],
    "label smoothing 0.9": ["loss.real_label=0.9"],
    "DiffAugment color,translation": ["train.diffaugment=color,translation"],
    "lsgan": ["loss.name=lsgan"],
}


def run(tag: str, sets: list[str], args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gankit", "train", "--epochs", str(args.epochs), "--out", args.out,
           "--name", tag, "--set", "train.progress=false", "--set", "train.final_eval_n=0"]  # it evaluates below
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 2) // args.jobs)))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", default="runs/switches")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    names = list(VARIANTS)
    tags = [f"switch{i}-{os.getpid()}" for i in range(len(names))]
    for i in range(0, len(names), args.jobs):
        procs = [run(tags[j], VARIANTS[names[j]], args) for j in range(i, min(i + args.jobs, len(names)))]
        for p in procs:
            p.communicate()
    runs = [next(Path(args.out).glob(f"*-{tag}")) for tag in tags]
    print("| variant | --set | FID | precision | recall | coverage | classes | img/s | grid |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, path in zip(names, runs):
        subprocess.run([sys.executable, "-m", "gankit", "evaluate", str(path), "--n", str(args.n)],
                       check=True, stdout=subprocess.DEVNULL)
        m = json.loads((path / "metrics.json").read_text())
        rows = [json.loads(line) for line in (path / "stats.jsonl").read_text().splitlines()]
        ips = sum(r["img_per_s"] for r in rows) / len(rows)
        grid = sorted((path / "samples").glob("fixed_*.png"))[-1]
        print(f"| {name} | {' '.join(VARIANTS[name]) or '-'} | {m['fid']:.1f} | {m['precision']:.3f} | "
              f"{m['recall']:.3f} | {m['coverage']:.3f} | {m['classes_covered']} | {ips:.0f} | {grid} |")


if __name__ == "__main__":
    main()
