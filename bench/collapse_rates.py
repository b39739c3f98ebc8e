"""How often does the collapse monitor cry wolf, and does it still see a real collapse?

Trains healthy runs (the default preset, three seeds, on Fashion-MNIST; and on cats and dogs when
--catdog is given) and runs made to collapse on purpose (unconditional, no EMA, no mode-seeking
term, the non-saturating loss; *partial*: no batch norm in G and G's learning rate ten times D's;
*full*: G's rate 100 times D's with Adam beta1 0.9; *no-ms*: the default without its
mode-seeking term, whose conditional G varies too little within a class), each through
`gankit train` with its end-of-run evaluation.  Every stats row holds the monitor's signals, so
the runs are then replayed through `CollapseJudge` (today's rule) and through the rule before it
(judged from step min(1000, steps/4), diversity: the mean of the last three rows below 0.5), and
the script prints one row per run: its final FID / recall / classes and each rule's warnings.

    python bench/collapse_rates.py [--out DIR] [--catdog PATH/cifar10-catdog.zip] [--replay]
    python bench/collapse_rates.py --out DIR --save-fixtures tests/training/data/collapse

Runs already in --out (default bench-out/collapse-rates) are reused; --replay only replays.
--save-fixtures writes each run's stats rows, the columns the judge reads, as the recorded rows
tests/training/test_collapse_replay.py replays.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from gankit.training.collapse import CollapseJudge

UNTAMED = ["model.conditional=false", "train.ema=false", "loss.ms_weight=0", "loss.name=ns"]
PARTIAL = UNTAMED + ["model.g_norm=none", "optim.g_lr=2e-3", "optim.d_lr=2e-4"]
FULL = UNTAMED + ["optim.g_lr=5e-3", "optim.d_lr=5e-5", "optim.beta1=0.9"]
SHORT = ["train.epochs=10", "train.max_steps=3000"]
# name -> (healthy?, --set values); the default preset trains its own 5 epochs (9,375 steps of 32)
RUNS = {
    "f-default-s0": (True, ["train.seed=0"]),
    "f-default-s1": (True, ["train.seed=1"]),
    "f-default-s2": (True, ["train.seed=2"]),
    "f-partial": (False, SHORT + PARTIAL),
    "f-full": (False, SHORT + FULL),
    "f-noms": (False, SHORT + ["loss.ms_weight=0"]),
}
CATDOG = {  # 10 epochs of the 10,000 training images: 3,130 steps
    "c-default": (True, ["train.epochs=10"]),
    "c-partial": (False, SHORT + PARTIAL),
    "c-full": (False, SHORT + FULL),
}
SHORT_RUN = 400  # the suite's and `make bench-tf`'s runs are this short or shorter
COLUMNS = ("step", "d_acc_real", "d_acc_fake", "g_loss", "diversity_ratio", "nn_ratio", "near_duplicates",
           "classes_covered", "classes_effective")


def train(name: str, sets: list[str], out: Path, data: list[str]) -> Path:
    done = sorted(out.glob(f"*-{name}/metrics.json"))
    if done:
        return done[-1].parent
    cmd = [sys.executable, "-m", "gankit", "train", "--name", name, "--out", str(out), "--set", "train.progress=false"]
    for s in data + sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True)
    return sorted(out.glob(f"*-{name}/metrics.json"))[-1].parent


def read_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines() if line.strip()]


def judge_today(rows: list[dict], n_classes: int, conditional: bool) -> list[str]:
    judge = CollapseJudge(n_classes=n_classes, conditional=conditional)
    return sum((judge.update(r) for r in rows), [])


def judge_before(rows: list[dict], n_classes: int) -> list[str]:
    """The rule of 2026-12-05: warm-up min(1000, steps/4); diversity = mean of the last 3 rows < 0.5."""
    warmup = min(1000, rows[-1]["step"] // 4)
    judge = CollapseJudge(n_classes=n_classes, warmup=warmup)  # coverage drops, saturation; diversity below
    out, recent, low = [], [], False
    for r in rows:
        out += judge.update({k: v for k, v in r.items() if k not in ("nn_ratio", "near_duplicates",
                                                                       "classes_effective")})
        if r["step"] < warmup or r.get("diversity_ratio") is None:
            continue
        recent = (recent + [r["diversity_ratio"]])[-3:]
        now = sum(recent) / len(recent) < 0.5
        if now and not low:
            out.append(f"step {r['step']}: diversity {sum(recent) / len(recent):.0%}")
        low = now
    return out


def kind(warning: str) -> str:
    text = warning.split(": ", 1)[1]
    if text.startswith("D accuracy"):
        return "saturation"
    return "coverage" if "classes" in text else "diversity"


def first(warnings: list[str]) -> str:
    if not warnings:
        return "none"
    kinds = sorted({kind(w) for w in warnings})
    return f"{len(warnings)} (first at {warnings[0].split(':')[0]}; {', '.join(kinds)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-out/collapse-rates")
    ap.add_argument("--catdog", help="the cifar10-catdog zip: adds its healthy and collapsed runs")
    ap.add_argument("--replay", action="store_true", help="replay the runs already in --out, train nothing")
    ap.add_argument("--save-fixtures", help="write each run's judged columns to DIR/NAME.jsonl")
    args = ap.parse_args()
    out = Path(args.out)
    plan = [(n, h, s, []) for n, (h, s) in RUNS.items()]
    if args.catdog:
        plan += [(n, h, s, ["data.dataset=folder", f"data.path={args.catdog}"]) for n, (h, s) in CATDOG.items()]
    print("| run | healthy? | steps | FID | recall | classes | warnings, rule before | warnings, today |")
    print("|---|---|---|---|---|---|---|---|")
    recorded = {}
    for name, healthy, sets, data in plan:
        if args.replay:
            found = sorted(out.glob(f"*-{name}/stats.jsonl"))
            if not found:
                continue
            run = found[-1].parent
        else:
            run = train(name, sets, out, data)
        rows = read_rows(run)
        m = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else {}
        n = int(m.get("classes_present") or max((r.get("classes_covered", 0) for r in rows), default=0))
        cond = json.loads((run / "config.json").read_text())["model"]["conditional"] is True
        recorded[name] = {"healthy": healthy, "conditional": cond, "n_classes": n, "steps": rows[-1]["step"],
                          **{k: m.get(k) for k in ("fid", "precision", "recall", "classes_covered")}}
        print(f"| {name} | {'yes' if healthy else 'no'} | {rows[-1]['step']:,} | {m.get('fid', float('nan')):.1f} | "
              f"{m.get('recall', float('nan')):.2f} | {m.get('classes_covered', '-')} | "
              f"{first(judge_before(rows, n))} | {first(judge_today(rows, n, cond))} |", flush=True)
        if name == "f-default-s0":  # a short run: its rows are the long run's first ones (same seed, no schedule)
            short = [r for r in rows if r["step"] <= SHORT_RUN]
            print(f"| {name}, as a {SHORT_RUN}-step run | yes | {SHORT_RUN} | | | | {first(judge_before(short, n))} | "
                  f"{first(judge_today(short, n, cond))} |", flush=True)
        if args.save_fixtures:
            dest = Path(args.save_fixtures)
            dest.mkdir(parents=True, exist_ok=True)
            kept = [{k: r[k] for k in COLUMNS if k in r} for r in rows]
            (dest / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    if args.save_fixtures:
        (Path(args.save_fixtures) / "runs.json").write_text(json.dumps(recorded, indent=1) + "\n")


if __name__ == "__main__":
    main()
