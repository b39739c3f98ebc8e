"""gankit's default side by side with what a user would pick instead, at equal wall-clock minutes.

Peers (bench/peer_recipes.py): a diffusers DDPM (`UNet2DModel`, DDPM training, DDIM sampling in 50
steps) and PyTorch's examples DCGAN.  lightweight-gan is not among them: its package imports
torchvision, and pip resolves `lightweight-gan` to torch 2.14 with CUDA wheels and torchvision,
replacing the pinned CPU torch (no CPU torchvision exists for it).

Each peer trains on the same images, one job at a time, to the first mark (e.g. 5 minutes of
training), draws `--n` samples (the sampling time is measured and not counted as training),
then trains on to the next mark (15 minutes in all), and so on.  Every set of samples is written
as an .npz and scored by the same `gankit evaluate --images FILE --against DATASET`: FID,
precision, recall and classes covered in the shipped evaluator's features, with the real
images' floor.  Results go to OUT/results.json and OUT/results.md, grids to OUT/DATASET/.

    pip install -r bench/requirements-peers.txt     # diffusers, outside gankit's dependencies
    python bench/peers.py [--quick] [--datasets fashion-mnist,catdog] [--minutes 5,15] [--n 5000]
        [--peers gankit,diffusers-ddpm,examples-dcgan] [--out bench-peers]

`--quick`: Fashion-MNIST (unless --datasets says otherwise), marks at 1 and 2 minutes, 500
samples: a smoke run of every part.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_recipes import RECIPES  # noqa: E402

from gankit.commands.evaluate_images import evaluate_images  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.launch.presets import build_config  # noqa: E402
from gankit.launch.start import start_run  # noqa: E402
from gankit.models.sampling import generated_u8  # noqa: E402
from gankit.runs.load import load_run  # noqa: E402
from gankit.util.imageio import save_grid  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
# name -> (--set keys for gankit's config, what `gankit evaluate --against` takes)
DATASETS = {
    "fashion-mnist": ([], "fashion-mnist"),
    "catdog": (["data.dataset=folder", f"data.path={SHARED / 'cifar10-catdog.zip'}"], str(SHARED / "cifar10-catdog.zip")),
}
KEYS = ("fid", "floor_fid", "precision", "recall", "classes_covered")


class GankitDefault:
    """gankit's default preset, trained by `start_run` with train.budget at each mark (a resume
    continues exactly), its periodic evaluation off like the peers'."""

    name = "gankit"

    def __init__(self, sets: list[str], out: Path, data):
        self.cfg = build_config(sets=[*sets, "train.epochs=100000", "train.progress=false", "train.tensorboard=false",
                                      "train.eval_every=0"])
        self.out, self.data, self.run = out, data, None
        self.steps = self.images_seen = 0
        self.seconds = 0.0

    def train(self, images, labels, until: float) -> None:
        self.cfg.train.budget = f"{until:g}s"
        if self.run is None:
            self.run, _ = start_run(self.cfg, out=self.out, name="gankit", data=self.data, announce=False)
        else:
            start_run(self.cfg, at=self.run.path, resume=True, data=self.data, announce=False)
        state = load_run(self.run.path).state
        self.steps, self.seconds = int(state["step"]), float(state["seconds"])
        self.images_seen = self.steps * self.cfg.train.batch_size

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        loaded = load_run(self.run.path)
        return generated_u8(loaded.G, loaded.cfg, loaded.prior, n, seed=seed)


def measure(peer, data, minutes: float, n: int, folder: Path, against: str) -> dict:
    peer.train(data.images, data.labels, minutes * 60)
    t0 = time.perf_counter()
    fake = peer.sample(n, seed=0)
    sample_s = time.perf_counter() - t0
    folder.mkdir(parents=True, exist_ok=True)
    npz = folder / f"{peer.name}-{minutes:g}min.npz"
    np.savez(npz, images=fake.permute(0, 2, 3, 1).numpy())
    save_grid(fake[:64], folder / f"{peer.name}-{minutes:g}min.png")
    metrics_file = folder / f"{peer.name}-{minutes:g}min.json"
    evaluate_images(str(npz), against, out=str(metrics_file), n=n)
    m = json.loads(metrics_file.read_text())
    row = {"peer": peer.name, "minutes": minutes, "steps": peer.steps, "train_seconds": round(peer.seconds, 1),
           "img_per_s": round(peer.images_seen / peer.seconds, 1) if peer.seconds else None,
           "sample_seconds": round(sample_s, 2), "n": int(fake.shape[0]), **{k: m.get(k) for k in KEYS}}
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict], machine: str) -> str:
    lines = [f"Machine: {machine}. Same `gankit evaluate --images` for every peer (shipped evaluator).", "",
             "| data | minutes | peer | FID (floor) | precision | recall | classes | img/s | steps | sample s (n) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def f(k, fmt):
            return "" if r.get(k) is None else format(r[k], fmt)
        lines.append(f"| {r['data']} | {r['minutes']:g} | {r['peer']} | {f('fid', '.1f')} ({f('floor_fid', '.2f')}) | "
                     f"{f('precision', '.3f')} | {f('recall', '.3f')} | {f('classes_covered', 'd')} | "
                     f"{f('img_per_s', '.0f')} | {r['steps']} | {r['sample_seconds']:.1f} ({r['n']}) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="Fashion-MNIST, marks at 1 and 2 minutes, 500 samples")
    ap.add_argument("--datasets", default="fashion-mnist,catdog")
    ap.add_argument("--minutes", default="5,15", help="marks: minutes of training at which each peer is sampled")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--peers", default="gankit,diffusers-ddpm,examples-dcgan")
    ap.add_argument("--out", default="bench-peers")
    args = ap.parse_args(argv)
    marks = [1.0, 2.0] if args.quick else [float(m) for m in args.minutes.split(",")]
    n = 500 if args.quick else args.n
    datasets = "fashion-mnist" if args.quick and args.datasets == ap.get_default("datasets") else args.datasets
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in datasets.split(","):
        sets, against = DATASETS[name]
        data = load_dataset(build_config(sets=sets).data)
        n_classes = len(data.class_names) if data.labels is not None else 0
        for peer_name in args.peers.split(","):
            torch.manual_seed(0)
            peer = (GankitDefault(sets, out / name / "runs", data) if peer_name == "gankit"
                    else RECIPES[peer_name](int(data.images.shape[1]), n_classes, seed=0))
            for minutes in marks:
                rows.append({"data": name, **measure(peer, data, minutes, n, out / name, against)})
                (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    import platform

    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    (out / "results.md").write_text(table(rows, machine))
    print(table(rows, machine))
    return out


if __name__ == "__main__":
    main()
