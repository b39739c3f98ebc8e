"""Wall-clock training time until the evaluator FID falls below thresholds, preset against preset.

Each preset trains in chunks of its wall-clock budget (train.budget counts the seconds of
every session, and a resume continues exactly), and after each chunk its checkpoint is
evaluated (shipped evaluator, `--n` samples; evaluation time is not training time).  The
table gives, per threshold, the training time of the first checkpoint at or below it (an
upper bound at the chunk grid's resolution), and the ratio of each preset's time to the
first preset's.  Presets take turns chunk by chunk, so machine load hits all alike.

    python bench/time_to_quality.py [--presets dcgan,tf-dcgan,fashion-tf2] [--marks 1,2,4,6,8,10]
        [--thresholds 150,100,75,52] [--n 5000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import tempfile

from gankit.data import load_dataset
from gankit.launch.presets import build_config
from gankit.launch.start import start_run
from gankit.metrics import evaluate_samples, load_test_split
from gankit.metrics.evaluate import reference_data
from gankit.models.sampling import generated_u8
from gankit.runs.load import load_run


def evaluate(run_path, n: int) -> dict:
    loaded = load_run(run_path)
    cfg = loaded.cfg
    fake = generated_u8(loaded.G, cfg, loaded.prior, n, seed=0)
    m = evaluate_samples(fake, cfg.data.dataset, reference_data(cfg, None), n=n,
                         test=load_test_split(cfg.data, None), seed=0)
    return {k: m[k] for k in ("fid", "precision", "recall", "classes_covered") if k in m}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="dcgan,tf-dcgan,fashion-tf2")
    ap.add_argument("--marks", default="1,2,4,6,8,10", help="minutes of training at which to evaluate")
    ap.add_argument("--thresholds", default="150,100,75,52")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--json")
    args = ap.parse_args()
    presets = args.presets.split(",")
    marks = [float(m) for m in args.marks.split(",")]
    thresholds = [float(t) for t in args.thresholds.split(",")]
    curves: dict[str, list[dict]] = {p: [] for p in presets}
    with tempfile.TemporaryDirectory() as out:
        runs, cfgs = {}, {}
        for p in presets:
            cfgs[p] = build_config(preset=p, sets=["train.epochs=10000", "train.progress=false",
                                                   "train.tensorboard=false", "train.sample_every=10000"])
        data = load_dataset(cfgs[presets[0]].data)
        for mark in marks:
            for p in presets:
                cfg = cfgs[p]
                cfg.train.budget = f"{mark * 60:g}s"
                if curves[p]:  # the next mark continues the run: the checkpoint's seconds count
                    start_run(cfg, at=runs[p].path, resume=True, data=data, announce=False)
                else:
                    runs[p], _ = start_run(cfg, out=out, name=p, data=data, announce=False)
                seconds = load_run(runs[p].path).state["seconds"]
                row = {"minutes": round(seconds / 60, 2), **evaluate(runs[p].path, args.n)}
                curves[p].append(row)
                print(p, json.dumps(row), flush=True)
    first = {p: {t: next((r["minutes"] for r in curves[p] if r["fid"] <= t), None) for t in thresholds}
             for p in presets}
    print(f"\nminutes of training until evaluator FID (n={args.n}) <= threshold (checkpoints at {args.marks} min)")
    print(f"{'preset':14s} " + " ".join(f"{f'<= {t:g}':>16s}" for t in thresholds))
    base = presets[0]
    for p in presets:
        cells = []
        for t in thresholds:
            m, b = first[p][t], first[base][t]
            ratio = f" ({m / b:.2f}x)" if m is not None and b else ""
            cells.append(f"{(f'{m:.1f}' if m is not None else f'> {marks[-1]:g}') + ratio:>16s}")
        print(f"{p:14s} " + " ".join(cells))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "marks": marks, "thresholds": thresholds, "curves": curves}, f, indent=2)


if __name__ == "__main__":
    main()
