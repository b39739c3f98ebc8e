"""Training-step throughput of every preset: gankit's loop against a plain PyTorch loop.

For each preset, in one process, interleaved in rounds so that machine load hits both alike:

- plain:  the pytorch/examples dcgan loop on the same G and D (BCE on logits, Adam, one G
          forward per step, labels for conditional models), nothing else;
- gankit: `train()` for the same number of steps (its loss, tricks, EMA, logging and all),
          timed by its own stats rows over the second half of the steps, so set-up and the
          end-of-run grid, checkpoint and report are not counted (the plain loop has none).

Work per step is counted, not estimated: `torch.utils.flop_counter.FlopCounterMode` records
the FLOPs of every convolution and matrix product (forward and backward) of one plain step,
so GFLOP/s = FLOPs per step x steps per second.  The machine's fp32 matmul peak is measured
by the same script (torch.mm on 2048 x 2048, best of several), and each loop's share of it is
printed: on a CPU, small convolutions reach a fraction of what one big matmul does.
Presets whose data is not on this machine are timed on random images of the same shape
(throughput does not depend on the pixels).  `PRESET@64` times the preset at 64 x 64 x 3,
unconditional (the shape of emoji-64 and most users' folders; `@32` and `@28` alike); the default list ends
with `dcgan@64`.  The plain loop always runs in fp32, so `--set train.amp=bf16` puts a bf16 step
beside an fp32 one in the same run; the machine's bf16 matmul peak is measured too, and the
share printed is of the peak of the step's own precision.

    python bench/throughput.py [--presets dcgan,tf-dcgan,dcgan@64] [--steps 30] [--rounds 2] [--json OUT]
        [--set train.amp=bf16 ...]  (applied to gankit's loop; e.g. channels, threads, compile)
        [--variant train.amp=bf16 ...]  (gankit's loop timed again with these sets, in the same rounds)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from gankit.data import ImageData, load_dataset
from gankit.errors import GankitError
from gankit.launch.presets import build_config, preset_names
from gankit.launch.start import resolve, start_run
from gankit.models import build_models
from gankit.util.imageio import to_float

NATIVE = {"fashion-mnist": (1, 28, 28), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
AT_SIZE = ["data.channels=3", "model.conditional=false"]  # PRESET@N: N x N colour, unconditional
QUIET = ["train.progress=false", "train.tensorboard=false", "train.sample_every=1000",
         "train.checkpoint_every=1000", "train.log_every=20"]


def matmul_peak(size: int = 2048, reps: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """This machine's matmul rate in GFLOP/s at `dtype` (best of `reps`)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - t0) / 1e9)
    return best


def data_for(cfg, data_dir: str | None) -> tuple[ImageData, str]:
    try:
        return load_dataset(cfg.data, data_dir), "real"
    except GankitError:
        c, h, w = NATIVE.get(cfg.data.dataset, (3, 32, 32))
        c = cfg.data.channels or c
        h = w = cfg.data.resolution or h
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (4096, c, h, w), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 10, (4096,), generator=g)
        return ImageData(images, labels, [str(i) for i in range(10)], "random"), "random"


class PlainLoop:
    """The pytorch/examples dcgan step on the preset's networks."""

    def __init__(self, cfg, data: ImageData):
        torch.manual_seed(0)
        self.cfg, self.data = resolve(cfg, data), data  # the autos as gankit's pre-flight resolves them
        self.G, self.D = build_models(cfg.model, tuple(data.images.shape[1:]), max(len(data.class_names), 1))
        o = cfg.optim
        self.og = torch.optim.Adam(self.G.parameters(), o.g_lr, betas=(o.beta1, o.beta2))
        self.od = torch.optim.Adam(self.D.parameters(), o.d_lr, betas=(o.beta1, o.beta2))

    def step(self) -> None:
        bs, n = self.cfg.train.batch_size, len(self.data)
        idx = torch.randint(0, n, (bs,))
        real = to_float(self.data.images[idx], self.cfg.data.range)
        y = self.data.labels[idx] if self.cfg.model.conditional else None
        fake = self.G(torch.randn(bs, self.cfg.model.z_dim), y)
        lr, lf = self.D(real, y), self.D(fake.detach(), y)
        d = F.binary_cross_entropy_with_logits(lr, torch.ones_like(lr)) + \
            F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
        self.od.zero_grad()
        d.backward()
        self.od.step()
        lg = self.D(fake, y)
        g = F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg))
        self.og.zero_grad()
        g.backward()
        self.og.step()

    def seconds(self, steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        return time.perf_counter() - t0

    def flops(self) -> int:
        with FlopCounterMode(display=False) as fc:
            self.step()
        return fc.get_total_flops()


def split(spec: str) -> tuple[str, list[str]]:
    """'dcgan@64' -> ('dcgan', 64 x 64 colour, unconditional); 'dcgan' -> ('dcgan', [])."""
    preset, _, size = spec.partition("@")
    if size and not (size.isdigit() and int(size) in (28, 32, 64, 128)):
        raise SystemExit(f"{spec}: give PRESET@28, @32, @64 or @128")
    return preset, [f"data.resolution={size}", *AT_SIZE] if size else []


def gankit_seconds(spec: str, sets: list[str], data: ImageData, steps: int, out: str) -> float:
    """Seconds per `steps` steps of gankit's loop, from its stats row over the last steps//2."""
    half = max(1, steps // 2)
    preset, shape = split(spec)
    cfg = build_config(preset=preset, sets=QUIET + shape + sets + [f"train.max_steps={2 * half}",
                                                                 f"train.log_every={half}"])
    run, _ = start_run(cfg, out=out, data=data, announce=False)
    rate = run.stats()[-1]["img_per_s"]
    return steps * cfg.train.batch_size / rate


def bench_preset(spec: str, sets: list[str], steps: int, rounds: int, data_dir: str | None, out: str,
                 variant: list[str] | None = None) -> dict:
    preset, shape = split(spec)
    cfg = build_config(preset=preset, sets=QUIET + shape)
    data, source = data_for(cfg, data_dir)
    plain = PlainLoop(cfg, data)
    plain.seconds(3)  # warm-up: allocator, oneDNN kernels
    flops = plain.flops()
    times = {"plain": [], "gankit": [], **({"variant": []} if variant else {})}
    for _ in range(rounds):  # interleaved, so the machine's load of the moment hits every loop alike
        times["plain"].append(plain.seconds(steps))
        times["gankit"].append(gankit_seconds(spec, sets, data, steps, out))
        if variant:
            times["variant"].append(gankit_seconds(spec, sets + variant, data, steps, out))
    bs = cfg.train.batch_size
    best = {k: min(v) for k, v in times.items()}
    return {"preset": spec, "data": source, "batch": bs, "gflop_per_step": flops / 1e9,
            **{f"{k}_img_s": steps * bs / s for k, s in best.items()},
            **{f"{k}_gflop_s": steps * flops / s / 1e9 for k, s in best.items()},
            "ratio": best["plain"] / best["gankit"],
            **({"variant_ratio": best["gankit"] / best["variant"]} if variant else {})}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default=",".join([*preset_names(), "dcgan@64"]))
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--data-dir")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="key=value for gankit's loop")
    ap.add_argument("--variant", action="append", default=[], help="key=value: also time gankit's loop with this "
                    "set added, in the same rounds (e.g. train.amp=bf16); printed as variant img/s and variant/gankit")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args(argv)
    peak = matmul_peak()
    bf16 = "train.amp=bf16" in args.sets  # the step's share is then of the bf16 matmul peak
    variant_bf16 = bf16 or "train.amp=bf16" in args.variant
    peak_bf16 = matmul_peak(dtype=torch.bfloat16)
    print(f"{torch.get_num_threads()} threads; matmul peak (torch.mm 2048^2) fp32 {peak:.1f} GFLOP/s, "
          f"bf16 {peak_bf16:.1f} GFLOP/s; shares below are of the {'bf16' if bf16 else 'fp32'} peak")
    variant_peak = peak_bf16 if variant_bf16 else peak
    print(f"{'preset':14s} {'data':6s} {'batch':>5s} {'GFLOP/step':>10s} {'plain img/s':>11s} "
          f"{'gankit img/s':>12s} {'gankit GFLOP/s':>14s} {'of peak':>7s} {'gankit/plain':>12s}")
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for preset in args.presets.split(","):
            r = bench_preset(preset, args.sets, args.steps, args.rounds, args.data_dir, out, args.variant)
            r["peak_share"] = r["gankit_gflop_s"] / (peak_bf16 if bf16 else peak)
            rows.append(r)
            print(f"{preset:14s} {r['data']:6s} {r['batch']:5d} {r['gflop_per_step']:10.2f} {r['plain_img_s']:11.1f} "
                  f"{r['gankit_img_s']:12.1f} {r['gankit_gflop_s']:14.1f} {r['peak_share']:7.1%} {r['ratio']:12.2f}"
                  + (f"  variant {r['variant_img_s']:.1f} img/s, {r['variant_gflop_s'] / variant_peak:.1%} of its peak, "
                     f"variant/gankit {r['variant_ratio']:.2f}" if args.variant else ""), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflop_s": peak, "peak_bf16_gflop_s": peak_bf16, "threads": torch.get_num_threads(), "sets": args.sets,
                       "variant": args.variant, "rows": rows}, f,
                      indent=2)
    return rows


if __name__ == "__main__":
    main()
