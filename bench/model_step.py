"""Seconds per training step of presets' networks alone: a D step (real + fake, ns loss) and a
G step with Adam, on random data of the preset's shape, outside gankit's loop (no logging,
monitor, EMA or data loading), so two architectures compare on the networks' cost only.

The presets take turns, one timed round of `--steps` steps each per repeat, so load from
other processes on a shared machine falls on all of them alike; the median round is printed.

    python bench/model_step.py [--presets dcgan,stylegan-lite,stylegan-lite:model.g_width=24]
        [--steps 20] [--repeats 5] [--size 28] [--channels 1] [--threads 0]

Each entry is a preset, optionally with `:key=value,key=value` overrides (the same preset may
appear with several); the first entry is the reference of the last column.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gankit.launch.presets import build_config
from gankit.models import build_models, resolve_auto_model


def make_step(cfg, size: int, channels: int):
    torch.manual_seed(0)
    n_classes = 10
    resolve_auto_model(cfg.model, n_classes)  # as the pre-flight does for 10-class data
    G, D = build_models(cfg.model, (channels, size, size), n_classes)
    G.train()
    D.train()
    o = cfg.optim
    opt_g = torch.optim.Adam(G.parameters(), o.g_lr, betas=(o.beta1, o.beta2))
    opt_d = torch.optim.Adam(D.parameters(), o.d_lr, betas=(o.beta1, o.beta2))
    b = cfg.train.batch_size
    real = torch.rand(b, channels, size, size) * 2 - 1
    y = torch.randint(0, n_classes, (b,)) if cfg.model.conditional else None

    def step() -> None:
        z = torch.randn(b, G.z_dim)
        with torch.no_grad():
            fake = G(z, y)
        d_loss = F.softplus(-D(real, y)).mean() + F.softplus(D(fake, y)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(G(torch.randn(b, G.z_dim), y), y)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

    return step


def _split(text: str) -> list[str]:
    """"a,b:k=v,k2=v2,c" -> ["a", "b:k=v,k2=v2", "c"]: a part with "=" continues the entry before it."""
    out: list[str] = []
    for part in text.split(","):
        if "=" in part and ":" not in part.split("=")[0] and out and ":" in out[-1]:
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="dcgan,stylegan-lite")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = _split(args.presets)
    steps, cfgs = {}, {}
    for name in names:
        preset, _, sets = name.partition(":")
        cfgs[name] = build_config(preset=preset, sets=[s for s in sets.split(",") if s])
        steps[name] = make_step(cfgs[name], args.size, args.channels)
        for _ in range(3):  # warm-up: allocator, first-call dispatch
            steps[name]()
    rounds: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            rounds[name].append((time.perf_counter() - t0) / args.steps)
    base = statistics.median(rounds[names[0]])
    print(f"{torch.get_num_threads()} threads, {args.size}x{args.size}x{args.channels}, "
          f"median of {args.repeats} rounds of {args.steps} steps")
    print(f"| preset | batch | s/step | x {names[0]} |")
    print("|---|---|---|---|")
    for name in names:
        s = statistics.median(rounds[name])
        print(f"| {name} | {cfgs[name].train.batch_size} | {s:.4f} | {s / base:.2f} |")


if __name__ == "__main__":
    main()
