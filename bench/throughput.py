"""Throughput of gankit's training loop against a plain PyTorch loop on the same model.

Both run the default DCGAN (or --preset) on real Fashion-MNIST batches, interleaved in
rounds so machine load affects both alike; the result is a ratio, not a wall-clock target.

    python bench/throughput.py [--preset dcgan] [--steps 60] [--rounds 3] [--batch 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
import torch.nn.functional as F

from gankit.configure import build_config
from gankit.data import load_dataset
from gankit.imageio import to_float
from gankit.models import build_models
from gankit.rundir import create_run_dir
from gankit.train import train


def plain_loop(cfg, data, steps: int) -> float:
    """The pytorch/examples dcgan loop: BCE-with-logits, Adam, one G forward per step."""
    torch.manual_seed(0)
    G, D = build_models(cfg.model, tuple(data.images.shape[1:]), max(len(data.class_names), 1))
    og = torch.optim.Adam(G.parameters(), cfg.optim.g_lr, betas=(cfg.optim.beta1, cfg.optim.beta2))
    od = torch.optim.Adam(D.parameters(), cfg.optim.d_lr, betas=(cfg.optim.beta1, cfg.optim.beta2))
    bs = cfg.train.batch_size
    n = data.images.shape[0]
    t0 = time.perf_counter()
    for i in range(steps):
        idx = torch.randint(0, n, (bs,))
        real = to_float(data.images[idx], cfg.data.range)
        fake = G(torch.randn(bs, cfg.model.z_dim))
        lr, lf = D(real), D(fake.detach())
        d = F.binary_cross_entropy_with_logits(lr, torch.ones_like(lr)) + \
            F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
        od.zero_grad()
        d.backward()
        od.step()
        lg = D(fake)
        g = F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg))
        og.zero_grad()
        g.backward()
        og.step()
    return steps * bs / (time.perf_counter() - t0)


def gankit_loop(cfg, data, steps: int, out: str) -> float:
    cfg.train.max_steps = steps
    run = create_run_dir(out, "bench")
    run.write_config(cfg)
    t0 = time.perf_counter()
    train(cfg, run, data=data)
    return steps * cfg.train.batch_size / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="dcgan")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int)
    args = ap.parse_args()
    sets = ["train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.log_every=20"]
    if args.batch:
        sets.append(f"train.batch_size={args.batch}")
    cfg = build_config(preset=args.preset, sets=sets)
    data = load_dataset(cfg.data)
    res = {"plain": [], "gankit": []}
    with tempfile.TemporaryDirectory() as out:
        plain_loop(cfg, data, 5)  # warm-up: allocator, oneDNN kernels
        for _ in range(args.rounds):
            res["plain"].append(plain_loop(cfg, data, args.steps))
            res["gankit"].append(gankit_loop(build_config(preset=args.preset, sets=sets), data, args.steps, out))
    best = {k: max(v) for k, v in res.items()}
    print(f"preset {args.preset}, batch {cfg.train.batch_size}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds x {args.steps} steps")
    for k, v in res.items():
        print(f"  {k:7s} best {best[k]:7.1f} img/s   all {[round(x) for x in v]}")
    print(f"  ratio gankit/plain: {best['gankit'] / best['plain']:.2f}")


if __name__ == "__main__":
    main()
