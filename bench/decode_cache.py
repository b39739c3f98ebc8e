"""Decode once: the first and second start of a 50,000-image folder against the one-thread loader.

Writes a folder of PNGs (32x32 RGB, from the CIFAR-10 cats+dogs zip, cycled and mirrored to
reach --n; two class sub-folders), then times, in one run on the same machine:

- `one thread, no cache`: what every start cost before (each file decoded in turn);
- `first start`: the process pool decodes and writes the cache;
- `second start`: read from the cache (what a resume or a sweep trial pays).

    python bench/decode_cache.py --data ../shared/datasets/cifar10-catdog.zip [--n 50000] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.config import DataConfig
from gankit.data import decoded, load_dataset
from gankit.data.folder import load_folder_images


def make_folder(src: str, n: int, out: Path) -> Path:
    real = load_dataset(DataConfig(dataset="folder", path=src))
    imgs, labels = real.images.permute(0, 2, 3, 1).numpy(), real.labels.numpy()
    for name in real.class_names:
        (out / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        j = i % len(imgs)
        a = imgs[j] if (i // len(imgs)) % 2 == 0 else imgs[j][:, ::-1]
        Image.fromarray(np.ascontiguousarray(a)).save(out / real.class_names[labels[j]] / f"{i:06d}.png")
    return out


def timed(fn) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = len(fn())
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="the cats+dogs zip to draw images from")
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--out", help="where to write the folder (default: a temporary one, removed after)")
    args = ap.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="gankit-decode-"))
    cache = Path(tempfile.mkdtemp(prefix="gankit-decode-cache-"))
    os.environ["GANKIT_CACHE"] = str(cache)
    try:
        t0 = time.perf_counter()
        folder = make_folder(args.data, args.n, root / "images")
        print(f"wrote {args.n} PNGs in {time.perf_counter() - t0:.0f}s", flush=True)
        pool_from, fmt = decoded.POOL_FROM, decoded.FORMAT
        decoded.POOL_FROM, decoded.FORMAT = 10**12, fmt + 1000  # one thread, and an entry never read again
        old, n = timed(lambda: load_folder_images(folder))
        shutil.rmtree(cache / "decoded")
        decoded.POOL_FROM, decoded.FORMAT = pool_from, fmt
        first, _ = timed(lambda: load_folder_images(folder))
        second, _ = timed(lambda: load_folder_images(folder))
        print(f"\n{n} images of 32x32 RGB, {os.cpu_count()} cores")
        print(f"{'one thread, no cache':22s} {old:7.2f} s  {n / old:9.0f} img/s")
        print(f"{'first start (pool)':22s} {first:7.2f} s  {n / first:9.0f} img/s  {old / first:5.2f}x faster")
        print(f"{'second start (cache)':22s} {second:7.2f} s  {n / second:9.0f} img/s  {old / second:5.1f}x faster "
              f"than one thread, {first / second:.1f}x than the first start")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if not args.out:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
