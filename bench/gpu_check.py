"""`make gpu-check`: every CUDA path gankit has, exercised in one command, one table printed.

Rows (each a short real training run through `launch.start_run`, or torchrun for DDP):

- device auto    train.device=auto picks CUDA where there is one (the weights end up there);
- default step   the default preset at 28 px, 10 classes (conditional): img/s;
- 64 px step     the default preset, unconditional, 3 x 64 x 64: img/s;
- bf16           train.amp=bf16 (autocast; CPUs with bf16 run it too);
- fp16 + scaler  train.amp=fp16 with the gradient scaler (CUDA only): its loss scale is checked;
- compile        train.compile=true (torch.compile, inductor);
- cudnn          torch.backends.cudnn.benchmark on for CUDA runs (CUDA only);
- torchrun       `torchrun --nproc_per_node N -m gankit train`: NCCL on N >= 2 GPUs, else
                 gloo on 2 CPU processes (NCCL cannot put two ranks on one GPU).

Without a GPU it runs the CPU parts with few steps (CI runs this mode, tests/system/
test_gpu_check.py) and names what it skipped and why.  The data are synthetic PNG folders
written here (throughput does not depend on the pixels; the device machine has no datasets).
Exit status 1 if any row failed.  At most ~8 minutes on a GPU (the step counts below).

    python bench/gpu_check.py [--steps N] [--skip compile,torchrun] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.launch.presets import build_config
from gankit.launch.start import start_run
from gankit.runtime.device import pick_device

QUIET = ["train.progress=false", "train.tensorboard=false", "train.epochs=1000", "train.sample_every=1000",
         "train.checkpoint_every=1000", "train.grid_size=16"]


def write_folder(root: Path, size: int, mode: str, classes: int, per_class: int) -> Path:
    """A folder of random-blob PNGs: `classes` subfolders (0: flat)."""
    rng = np.random.default_rng(0)
    chans = 3 if mode == "RGB" else 1
    for c in range(max(classes, 1)):
        d = root / f"class{c}" if classes else root
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 256, (size // 4, size // 4, chans), dtype=np.uint8)
            img = np.kron(img, np.ones((4, 4, 1), dtype=np.uint8))  # blocky, so PNGs stay small
            Image.fromarray(img.squeeze(-1) if chans == 1 else img, mode).save(d / f"{i}.png")
    return root


class Check:
    """One table: rows of (check, status, img/s, note)."""

    def __init__(self, device: torch.device, skipped: set[str]):
        self.device, self.rows, self.skipped = device, [], skipped

    def skip(self, name: str, why: str) -> None:
        self.rows.append({"check": name, "status": "skipped", "img_per_s": None, "note": why})

    def run(self, name: str, fn) -> None:
        if name in self.skipped:
            return self.skip(name, "--skip")
        t0 = time.perf_counter()
        try:
            rate, note = fn()
            status = "ok"
        except Exception as e:  # a failed path is a row, not the end of the check
            rate, note, status = None, f"{type(e).__name__}: {str(e).splitlines()[0][:120]}", "FAILED"
            traceback.print_exc(file=sys.stderr)
        self.rows.append({"check": name, "status": status, "img_per_s": rate,
                          "note": f"{note} ({time.perf_counter() - t0:.0f} s)"})

    def print(self) -> None:
        print(f"\ndevice: {describe(self.device)}; torch {torch.__version__}")
        print(f"| {'check':14s} | {'status':8s} | {'img/s':>8s} | note |")
        print(f"|{'-' * 16}|{'-' * 10}|{'-' * 10}|------|")
        for r in self.rows:
            rate = f"{r['img_per_s']:8.1f}" if r["img_per_s"] is not None else f"{'':8s}"
            print(f"| {r['check']:14s} | {r['status']:8s} | {rate} | {r['note']} |")


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} x{torch.cuda.device_count()} (CUDA {torch.version.cuda})"
    return f"CPU, {torch.get_num_threads()} threads (no CUDA GPU)"


def run_sets(data: Path, steps: int) -> list[str]:
    """--set values of a short run on `data`: its stats row after steps//2 and after 2*(steps//2)."""
    half = max(1, steps // 2)
    return QUIET + ["data.dataset=folder", f"data.path={data}", f"train.max_steps={2 * half}",
                    f"train.log_every={half}"]


def train_rate(out: Path, data: Path, steps: int, sets: list[str], name: str) -> tuple[float, dict]:
    """img/s over the second half of a `steps`-step run, and what the run left behind."""
    cfg = build_config(sets=run_sets(data, steps) + sets)
    run, summary = start_run(cfg, out=out, name=name, announce=False)
    rows = run.stats()
    if not all(math.isfinite(rows[-1][k]) for k in ("d_loss", "g_loss")):
        raise RuntimeError(f"non-finite loss in the last stats row: {rows[-1]}")
    return rows[-1]["img_per_s"], {"run": run, "summary": summary}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, help="steps per run (default 400 on a GPU, 16 on a CPU)")
    ap.add_argument("--skip", default="", help="comma-separated checks not to run (e.g. compile)")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args()
    device = pick_device("auto")
    cuda = device.type == "cuda"
    steps = args.steps or (400 if cuda else 16)
    check = Check(device, {name.strip() for name in args.skip.split(",") if name.strip()})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("GANKIT_CACHE", str(tmp / "cache"))
        gray = write_folder(tmp / "gray28", 28, "L", 10, 100)
        rgb = write_folder(tmp / "rgb64", 64, "RGB", 0, 512)
        out = tmp / "runs"

        def auto():
            from gankit.runs.load import load_run
            _, r = train_rate(out, gray, 4, [], "auto")
            where = next(load_run(r["run"].path, device=str(device)).G.parameters()).device
            if where.type != device.type:
                raise RuntimeError(f"weights on {where}, expected {device}")
            return None, f"picked {device}; weights there"

        check.run("device auto", auto)
        check.run("default step", lambda: (train_rate(out, gray, steps, [], "default")[0], "28 px, 10 classes"))
        check.run("64 px step", lambda: (train_rate(out, rgb, steps, [], "px64")[0], "3x64x64, unconditional"))
        if not cuda or torch.cuda.is_bf16_supported():
            check.run("bf16", lambda: (train_rate(out, gray, steps, ["train.amp=bf16"], "bf16")[0], "autocast bf16"))
        else:
            check.skip("bf16", "this GPU has no bf16")
        if cuda:
            def fp16():
                from gankit.runs.checkpoint import load_state
                rate, r = train_rate(out, gray, steps, ["train.amp=fp16"], "fp16")
                scales = [sc.get("scale") for sc in load_state(r["run"].last_checkpoint).get("scalers", [])]
                if not scales or not all(s and math.isfinite(float(s)) for s in scales):
                    raise RuntimeError(f"no finite loss scale in the checkpoint: {scales}")
                return rate, "autocast fp16 + GradScaler, loss scales " + ", ".join(f"{float(s):g}" for s in scales)
            check.run("fp16 + scaler", fp16)
        else:
            check.skip("fp16 + scaler", "needs CUDA (train.amp=fp16 refuses CPUs)")
        check.run("compile", lambda: (train_rate(out, gray, steps, ["train.compile=true"], "compile")[0],
                                      "torch.compile (first steps pay the compilation)"))
        if cuda:
            def cudnn():
                train_rate(out, gray, 4, [], "cudnn")
                if not torch.backends.cudnn.benchmark:
                    raise RuntimeError("cudnn.benchmark is off after a CUDA run")
                return None, f"cudnn {torch.backends.cudnn.version()}, benchmark on"
            check.run("cudnn", cudnn)
        else:
            check.skip("cudnn", "needs CUDA")
        n_gpu = torch.cuda.device_count() if cuda else 0
        if n_gpu == 1:
            check.skip("torchrun", "NCCL needs 2+ GPUs (1 here); gloo on CPUs is in the test suite")
        else:
            check.run("torchrun", lambda: torchrun(out, gray, steps, n_gpu))
    check.print()
    if args.json:
        Path(args.json).write_text(json.dumps({"device": describe(device), "rows": check.rows}, indent=2))
    return 1 if any(r["status"] == "FAILED" for r in check.rows) else 0


def torchrun(out: Path, data: Path, steps: int, n_gpu: int) -> tuple[float, str]:
    ranks, backend = (n_gpu, "NCCL") if n_gpu >= 2 else (2, "gloo")
    sets = run_sets(data, steps) + (["train.device=cpu"] if n_gpu < 2 else [])
    cmd = [str(Path(sys.executable).parent / "torchrun"), "--standalone", f"--nproc_per_node={ranks}",
           "-m", "gankit", "train", "--out", str(out / "ddp"), "--set", "train.final_eval_n=0"]
    for s in sets:
        cmd += ["--set", s]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "torchrun failed")
    run = sorted((out / "ddp").iterdir())[-1]
    row = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()][-1]
    return row["img_per_s"], f"{ranks} processes, {backend}"


if __name__ == "__main__":
    sys.exit(main())
