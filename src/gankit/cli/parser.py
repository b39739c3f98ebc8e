"""The flags of each `gankit` verb: one `*_args(parser)` function per verb, which cli/verbs.py's
table pairs with the verb's name, help line and handler.

The spellings here are a contract (users and scripts rely on them): `train|generate|evaluate|
report|sweep|export|presets|options|data show|evaluator train`, `--preset`, `--config`, `--set`,
`--epochs`, `--budget`, `--out`, `--resume`, `--dry-run`, `--data-dir`.
"""

from __future__ import annotations

import argparse

from gankit.launch.catalog import builtin_names  # the file names only: no torch


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="start from a shipped preset (see `gankit presets`); default dcgan")
    p.add_argument("--config", metavar="FILE", help="TOML or JSON config applied over the preset")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set loss.name=hinge (repeatable; see `gankit options`)")
    p.add_argument("--data-dir", help="folder holding dataset files (searched before $GANKIT_DATA and the cache)")


def train_args(p: argparse.ArgumentParser) -> None:
    _config_args(p)
    p.add_argument("--epochs", type=int, help="shorthand for --set train.epochs=N")
    p.add_argument("--seed", type=int, help="shorthand for --set train.seed=S")
    p.add_argument("--budget", metavar="DURATION", help="shorthand for --set train.budget=DURATION (e.g. 10m): "
                   "train until this much wall-clock time is spent")
    p.add_argument("--out", help="parent folder of run directories (default: runs)")
    p.add_argument("--name", help="run directory name after its number (default: the preset)")
    p.add_argument("--resume", metavar="RUN", help="continue RUN from its last checkpoint")
    p.add_argument("--init-from", metavar="RUN", help="fine-tune: start G and D from RUN's last checkpoint (or a "
                   "checkpoint file) with fresh optimisers; shorthand for --set train.init_from=RUN")
    p.add_argument("--dry-run", action="store_true", help="validate and print the config, load nothing, train nothing")


def generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="a run directory or a folder written by `gankit export`")
    p.add_argument("--n", type=int, help="images to write (default 64; --dataset: the dataset's size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="cls", help="class name or index (conditional runs)")
    p.add_argument("--checkpoint", help="a checkpoint file other than the run's last one")
    p.add_argument("--per-class", type=int, metavar="K", help="--dataset: K images of each trained class")
    p.add_argument("--format", dest="fmt", choices=("png", "idx"),
                   help="--dataset: class folders of PNGs (default) or IDX files")
    p.add_argument("--interpolate", type=int, metavar="K", help="--gif: frames between each pair of keyframes (default 8)")
    p.add_argument("--latent", metavar="FILE", help="render the latent `gankit project` wrote (FILE.npz) instead "
                   "of sampling: the projection's image, exactly")
    p.add_argument("--truncation", type=float, metavar="PSI", help="style-based models (stylegan-lite): pull w "
                   "toward its training average, w_avg + PSI * (w - w_avg); 1 = none, 0.7 trades variety for typical images")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--grid", metavar="PNG", help="write one grid image")
    g.add_argument("--out", metavar="DIR", help="write one PNG per image")
    g.add_argument("--npz", metavar="FILE", help="write a uint8 array 'images' [N,H,W,C] (+ 'labels')")
    g.add_argument("--dataset", metavar="OUT", help="write a labelled synthetic dataset (+ manifest.json) "
                   "into OUT, a new or empty folder")
    g.add_argument("--gif", metavar="FILE", help="write a latent walk (slerp between fixed seeds) as an animated "
                   "GIF, a PNG strip beside it, and RUN/samples/walk.png for the report")


def project_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="a run directory or a folder written by `gankit export`")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files, folders, zips or .npz arrays "
                   "(prepared as the run's training data: size, crop, grey/colour)")
    p.add_argument("--out", metavar="DIR", required=True, help="where the projections, latents and GIFs go")
    p.add_argument("--class", dest="cls", help="conditional runs: the class to search in (default: try each)")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps per image (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="a checkpoint file other than the run's last one")


def app_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="a run directory or a folder written by `gankit export` (ONNX too)")
    p.add_argument("--port", type=int, default=7860, help="the page's port (default 7860; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this "
                   "machine only)")
    p.add_argument("--checkpoint", help="a checkpoint file other than the run's last one")


def evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", nargs="?", help="a run directory (or give --images)")
    p.add_argument("--images", metavar="PATH", help="score these images instead of a run: a folder, zip, .npz or "
                   ".npy from any tool")
    p.add_argument("--against", metavar="REF", help="--images: the real images to compare with: a dataset name "
                   "(fashion-mnist, ...), a folder/zip, or a run directory (its training data)")
    p.add_argument("--out", metavar="FILE", help="--images: also write the metrics as JSON to FILE")
    p.add_argument("--n", type=int, help="samples to evaluate (default 10000; --images: all of them)")
    p.add_argument("--checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir")
    p.add_argument("--inception", action="store_true", help="also Inception-v3 FID/KID/IS, the paper-comparable "
                   "figures (needs torch-fidelity and its weights file: docs/evaluation.md)")
    p.add_argument("--inception-weights", metavar="FILE", help="--inception: the weights file "
                   "(torch-fidelity's weights-inception-*.pth) if it is not where docs/evaluation.md says")
    p.add_argument("--cas", action="store_true", help="instead of FID etc.: Classification Accuracy Score of a "
                   "conditional run (classifiers on n synthetic, n real, n real + n synthetic images)")
    p.add_argument("--cas-epochs", type=int, default=0, metavar="E", help="--cas: classifier epochs (default 2)")
    p.add_argument("--projection", action="store_true", help="instead of FID etc.: project N training and N "
                   "held-out images into G (default N 200) and report both reconstruction errors and their gap")
    p.add_argument("--privacy", action="store_true", help="instead of FID etc.: nearest-training-image distances "
                   "of n samples vs the test split's, the memorisation rate and the closest pairs")


def export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    p.add_argument("--format", default="safetensors", metavar="FORMAT",
                   help="safetensors (gankit and PyTorch load it) or onnx (a graph onnxruntime runs anywhere)")
    p.add_argument("--checkpoint", help="a checkpoint file other than the run's last one")


def sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", metavar="STUDY", help=f"a built-in study ({', '.join(builtin_names())}) or a study TOML file")
    p.add_argument("--full", action="store_true", help="the original experiment's budget instead of the quick one")
    p.add_argument("--out", metavar="DIR", help="study directory (default studies/STUDY); re-running resumes it")
    p.add_argument("--storage", metavar="URL", help="Optuna storage shared by workers on several machines, "
                   "e.g. postgresql://user:pw@host/db (default: SQLite in the study directory)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (CPU threads split between them)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key in every trial (not one the study varies)")
    p.add_argument("--data-dir")
    p.add_argument("--dry-run", action="store_true", help="list the planned trials, train nothing")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # started by --workers N
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)


def report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_OR_STUDY")


def presets_args(p: argparse.ArgumentParser) -> None:
    pass  # no flags


def options_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="show this preset's values as the defaults")
    p.add_argument("--markdown", action="store_true", help="the reference as a Markdown page (docs/options.md is "
                   "this output)")


def data_args(p: argparse.ArgumentParser) -> None:
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    q = dsub.add_parser("show", help="write a grid of real images and print counts per class")
    q.add_argument("dataset", help="fashion-mnist, mnist, cifar10, or a folder/zip path")
    q.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="data.* overrides, e.g. --set data.split=test --set data.classes=cat,dog")
    q.add_argument("--data-dir")
    q.add_argument("--out", default="data_show.png", help="output PNG (default data_show.png)")
    q.add_argument("--n", type=int, default=64)


def evaluator_args(p: argparse.ArgumentParser) -> None:
    esub = p.add_subparsers(dest="evaluator_command", required=True, metavar="COMMAND")
    q = esub.add_parser("train", help="train an evaluator: a shipped recipe, or one for any folder/zip")
    q.add_argument("dataset", nargs="?", help="fashion-mnist, mnist, cifar10, cifar10-catdog, or a folder/zip path")
    q.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="data.* settings, e.g. --set data.dataset=folder --set data.path=PATH")
    q.add_argument("--method", choices=("auto", "classifier", "ssl"), default="auto",
                   help="auto: a classifier on labelled images (class sub-folders), SimCLR on a flat folder")
    q.add_argument("--data-dir")
    q.add_argument("--out", help="folder for weights + card (default: the gankit cache, where evaluate finds it)")
    q.add_argument("--epochs", type=int)
    q.add_argument("--seed", type=int, default=0)
