"""Is the self-supervised evaluator a yardstick?  Rank checkpoints with it and with a labelled one.

Trains the default preset in chunks (a resume continues exactly), keeping a copy of the run
after each chunk: checkpoints from a few hundred steps to a full 10-minute run, plus two runs
made to collapse on purpose (unconditional, no EMA, no mode-seeking term, 1,500 steps): a
partial collapse (no batch norm in G, G's learning rate ten times D's: few modes, low recall)
and a complete one (G's learning rate 100 times D's, Adam beta1 0.9: one image for every z).  Every checkpoint's samples are then scored twice against the same real data:
in the feature space of the shipped labelled evaluator, and in that of the self-supervised
evaluator trained on the same images *without their labels* (`gankit evaluator train
--method ssl`).  Prints both FIDs per checkpoint, both floors, and the Spearman rank
correlation of the two FID columns (1.0: the same order).

    python bench/evaluator_rank.py fashion [--out DIR] [--n 5000]
    python bench/evaluator_rank.py catdog --data PATH/cifar10-catdog.zip [--out DIR] [--ssl-steps N]

The checkpoints stay in --out (default bench-out/evaluator-rank-DATA), so a second call only
scores; the SSL evaluator is cached by the data's fingerprint like any other.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from gankit.data import load_dataset
from gankit.launch.presets import build_config
from gankit.launch.start import start_run
from gankit.metrics import evaluate_samples, evaluator_folder, load_test_split
from gankit.metrics.evaluate import reference_data
from gankit.metrics.evaluator import evaluator_for
from gankit.models.sampling import generated_u8
from gankit.runs.load import load_run

SETUPS = {
    # step marks, then a last chunk to the full budget (seconds of training)
    "fashion": {"sets": [], "marks": [100, 300, 800, 2000, 4500], "budget": 600},
    "catdog": {"sets": ["data.dataset=folder"], "marks": [100, 300, 800, 2000], "budget": 600},
}
UNTAMED = ["model.conditional=false", "train.ema=false", "loss.ms_weight=0", "loss.name=ns", "train.max_steps=1500"]
COLLAPSES = {
    "collapse-partial": UNTAMED + ["model.g_norm=none", "optim.g_lr=2e-3", "optim.d_lr=2e-4"],
    "collapse-full": UNTAMED + ["optim.g_lr=5e-3", "optim.d_lr=5e-5", "optim.beta1=0.9"],
}
QUIET = ["train.epochs=10000", "train.progress=false", "train.tensorboard=false", "train.sample_every=10000"]


def snapshot(run, dest: Path) -> None:
    shutil.copytree(run.path, dest, ignore=shutil.ignore_patterns("tb", "samples", "plots"))


def make_checkpoints(kind: str, out: Path, data_path: str | None) -> list[Path]:
    """The checkpoints (reused when --out already has them): ckpt-0.. by training time, then the collapses."""
    setup = SETUPS[kind]
    sets = QUIET + setup["sets"] + ([f"data.path={data_path}"] if data_path else [])
    data = None
    marks = setup["marks"] + [0]
    if not all((out / f"ckpt-{i}" / "checkpoints" / "last.safetensors").is_file() for i in range(len(marks))):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        cfg = build_config(sets=sets)
        data = load_dataset(cfg.data)
        run = None
        for i, mark in enumerate(marks):
            cfg.train.max_steps = mark
            cfg.train.budget = f"{setup['budget']}s" if mark == 0 else ""
            t0 = time.time()
            if run is None:
                run, summary = start_run(cfg, out=out / "work", name="default", data=data, announce=False)
            else:  # continue it to the next mark
                _, summary = start_run(cfg, at=run.path, resume=True, data=data, announce=False)
            print(f"{kind}: step {summary.get('step')} after {time.time() - t0:.0f}s", flush=True)
            snapshot(run, out / f"ckpt-{i}")
    for name, extra in COLLAPSES.items():
        if (out / name / "checkpoints" / "last.safetensors").is_file():
            continue
        bad = build_config(sets=sets + extra)
        data = data or load_dataset(bad.data)
        crun, _ = start_run(bad, out=out / "work", name=name, data=data, announce=False)
        snapshot(crun, out / name)
    return [out / f"ckpt-{i}" for i in range(len(marks))] + [out / name for name in COLLAPSES]


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (no ties in continuous FIDs)."""
    ra = torch.tensor(a).argsort().argsort().double()
    rb = torch.tensor(b).argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=sorted(SETUPS))
    ap.add_argument("--data", help="the folder/zip for catdog")
    ap.add_argument("--out")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--json")
    ap.add_argument("--ssl-steps", type=int, help="train the SSL evaluator this many steps instead of the recipe's")
    args = ap.parse_args()
    if args.ssl_steps:
        evaluator_folder.SSL_STEPS = args.ssl_steps  # part of the recipe, hence of the evaluator's key
    out = Path(args.out or f"bench-out/evaluator-rank-{args.kind}")
    ckpts = make_checkpoints(args.kind, out, args.data)
    cfg = load_run(ckpts[0]).cfg
    real = reference_data(cfg, None)
    test = load_test_split(cfg.data, None)
    labelled = evaluator_for(cfg.data.dataset, real.class_names)
    unlabelled = real.__class__(real.images, torch.zeros(len(real), dtype=torch.long), ["image"], real.name)
    t0 = time.time()
    ssl = evaluator_folder.ensure_evaluator(unlabelled, method="ssl")
    print(f"ssl evaluator {ssl.key}: {time.time() - t0:.0f}s, {ssl.card.get('ssl_loss')}", flush=True)
    rows = []
    for ck in ckpts:
        loaded = load_run(ck)
        fake = generated_u8(loaded.G, loaded.cfg, loaded.prior, args.n, seed=0)
        row = {"checkpoint": ck.name, "step": loaded.step}
        for name, ev in (("labelled", labelled), ("ssl", ssl)):
            m = evaluate_samples(fake, cfg.data.dataset, real, n=args.n, test=test, seed=0, evaluator=ev)
            row[f"{name}_fid"], row[f"{name}_floor"] = round(m["fid"], 3), round(m["floor_fid"], 3)
            if "classes_covered" in m:
                row["classes_covered"] = m["classes_covered"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    rho = spearman([r["labelled_fid"] for r in rows], [r["ssl_fid"] for r in rows])
    print(f"\n{args.kind}: n={args.n}, {len(rows)} checkpoints")
    print(f"{'checkpoint':16s} {'step':>6s} {'labelled FID':>13s} {'SSL FID':>9s} {'classes':>8s}")
    for r in rows:
        print(f"{r['checkpoint']:16s} {r['step']:6d} {r['labelled_fid']:13.2f} {r['ssl_fid']:9.2f} "
              f"{r.get('classes_covered', '-')!s:>8s}")
    print(f"floors: labelled {rows[0]['labelled_floor']:.2f}, SSL {rows[0]['ssl_floor']:.2f}")
    print(f"Spearman rank correlation of the two FID columns: {rho:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": args.n, "rows": rows, "spearman": rho}, indent=2) + "\n")


if __name__ == "__main__":
    main()
