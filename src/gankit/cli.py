"""The `gankit` command: parses arguments, calls one function per subcommand.

Every user-facing failure is a `GankitError`, printed as one line (`gankit: error: ...`)
with exit code 2, the same code argparse uses for bad arguments (`gankit --debug ...` adds
its traceback).  Every warning, gankit's own or a library's, is shown as one line
(`gankit: warning: ...`) on stderr, never in Python's format with a source line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

from gankit.errors import GankitError
from gankit.launch.catalog import builtin_names  # the file names only: no torch


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="start from a shipped preset (see `gankit presets`); default dcgan")
    p.add_argument("--config", metavar="FILE", help="TOML or JSON config applied over the preset")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set loss.name=hinge (repeatable; see `gankit options`)")
    p.add_argument("--data-dir", help="folder holding dataset files (searched before $GANKIT_DATA and the cache)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gankit", description="Train, explore and measure GANs on image datasets.")
    ap.add_argument("--debug", action="store_true",
                    help="print the traceback of an error (and where each warning came from) as well")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a GAN into a new run directory (or --resume one)")
    _config_args(p)
    p.add_argument("--epochs", type=int, help="shorthand for --set train.epochs=N")
    p.add_argument("--seed", type=int, help="shorthand for --set train.seed=S")
    p.add_argument("--budget", metavar="DURATION", help="shorthand for --set train.budget=DURATION (e.g. 10m): "
                   "train until this much wall-clock time is spent")
    p.add_argument("--out", default="runs", help="parent folder of run directories (default: runs)")
    p.add_argument("--name", help="run directory name after its number (default: the preset)")
    p.add_argument("--resume", metavar="RUN", help="continue RUN from its last checkpoint")
    p.add_argument("--init-from", metavar="RUN", help="fine-tune: start G and D from RUN's last checkpoint (or a "
                   "checkpoint file) with fresh optimisers; shorthand for --set train.init_from=RUN")
    p.add_argument("--dry-run", action="store_true", help="validate and print the config, load nothing, train nothing")

    p = sub.add_parser("generate", help="sample images from a trained run or an exported generator")
    p.add_argument("run", metavar="RUN", help="a run directory or a folder written by `gankit export`")
    p.add_argument("--n", type=int, help="images to write (default 64; --dataset: the dataset's size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="cls", help="class name or index (conditional runs)")
    p.add_argument("--checkpoint", help="a checkpoint file other than the run's last one")
    p.add_argument("--per-class", type=int, metavar="K", help="--dataset: K images of each trained class")
    p.add_argument("--format", dest="fmt", choices=("png", "idx"),
                   help="--dataset: class folders of PNGs (default) or IDX files")
    p.add_argument("--interpolate", type=int, metavar="K", help="--gif: frames between each pair of keyframes (default 8)")
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

    p = sub.add_parser("evaluate", help="FID, KID, precision/recall... of a trained run, or of any images "
                       "(--images PATH --against REF)")
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
    p.add_argument("--cas", action="store_true", help="instead of FID etc.: Classification Accuracy Score of a "
                   "conditional run (classifiers on n synthetic, n real, n real + n synthetic images)")
    p.add_argument("--cas-epochs", type=int, default=0, metavar="E", help="--cas: classifier epochs (default 2)")
    p.add_argument("--privacy", action="store_true", help="instead of FID etc.: nearest-training-image distances "
                   "of n samples vs the test split's, the memorisation rate and the closest pairs")

    p = sub.add_parser("export", help="write the generator alone (safetensors + config.json) for inference")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    p.add_argument("--checkpoint", help="a checkpoint file other than the run's last one")

    p = sub.add_parser("sweep", help="run a study: a grid, random or TPE search over config keys, K seeds each")
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

    p = sub.add_parser("report", help="(re)write the report of a run directory or a study directory")
    p.add_argument("run", metavar="RUN_OR_STUDY")

    sub.add_parser("presets", help="list the shipped presets")

    p = sub.add_parser("options", help="every config key with its default and meaning")
    p.add_argument("--preset", help="show this preset's values as the defaults")

    p = sub.add_parser("data", help="dataset tools")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    q = dsub.add_parser("show", help="write a grid of real images and print counts per class")
    q.add_argument("dataset", help="fashion-mnist, mnist, cifar10, or a folder/zip path")
    q.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="data.* overrides, e.g. --set data.split=test --set data.classes=cat,dog")
    q.add_argument("--data-dir")
    q.add_argument("--out", default="data_show.png", help="output PNG (default data_show.png)")
    q.add_argument("--n", type=int, default=64)

    p = sub.add_parser("evaluator", help="the evaluator networks behind FID/KID/...")
    esub = p.add_subparsers(dest="evaluator_command", required=True, metavar="COMMAND")
    q = esub.add_parser("train", help="train an evaluator classifier deterministically")
    q.add_argument("dataset")
    q.add_argument("--data-dir")
    q.add_argument("--out", help="folder for weights + card (default: the gankit cache, where evaluate finds it)")
    q.add_argument("--epochs", type=int)
    q.add_argument("--seed", type=int, default=0)
    return ap


def cmd_train(a: argparse.Namespace) -> int:
    from gankit.config import from_dict, set_value
    from gankit.launch.presets import build_config, validate
    from gankit.launch.start import start_run
    from gankit.runs.layout import open_run_dir
    from gankit.runtime.distributed import setup, teardown

    dist = setup()  # one process, or this rank's place under torchrun
    if a.resume:
        run = open_run_dir(a.resume)
        if a.preset or a.config or a.sets or a.init_from:
            raise GankitError("--resume continues a run with its own config; only --epochs and --budget may change it")
        cfg = from_dict(run.read_config())
        if a.epochs is not None:  # --epochs 0 is refused by validate, not ignored
            set_value(cfg, "train.epochs", a.epochs)
        if a.budget:
            set_value(cfg, "train.budget", a.budget)
        validate(cfg)
    else:
        sets = list(a.sets)
        if a.epochs is not None:
            sets.append(f"train.epochs={a.epochs}")
        if a.seed is not None:
            sets.append(f"train.seed={a.seed}")
        if a.budget is not None:
            sets.append(f"train.budget={a.budget}")
        if a.init_from is not None:  # absolute: config.json then names the source from any folder
            sets.append(f"train.init_from={Path(a.init_from).expanduser().resolve()}")
        cfg = build_config(a.preset, a.config, sets)
        if a.dry_run:
            if dist.main:
                print(cfg.to_json())
            return 0
    try:  # pre-flight, run directory, config.json once, train()
        run, summary = start_run(cfg, out=a.out, name=a.name, at=a.resume, resume=bool(a.resume),
                                 data_dir=a.data_dir, dist=dist)
    finally:
        teardown(dist)
    if dist.main:
        state = "interrupted, saved" if summary["interrupted"] else "done"
        print(f"{state}: {summary['step']} steps in {summary['seconds']} s ({summary['img_per_s']} img/s)")
        print(f"samples: {run.samples}  report: {run.report_file}")
    return 130 if summary["interrupted"] else 0


SEED_MAX = 2**63 - 1  # torch's generators take a signed 64-bit seed
MAX_IMAGES = 10**7  # --n beyond this is a typo, not a plan (memory is checked against the shapes too)


def count(flag: str, value: int | None, low: int, high: int) -> None:
    """A number on the command line in [low, high], checked before any work: one line otherwise."""
    if value is not None and value < low:
        raise GankitError(f"{flag} {value}: must be at least {low}")
    if value is not None and value > high:
        raise GankitError(f"{flag} {value}: must be at most {high:,}")


def cmd_generate(a: argparse.Namespace) -> int:
    from gankit.commands.generate import generate
    from gankit.util.paths import writable_dir, writable_file

    count("--n", a.n, 1, MAX_IMAGES)
    count("--seed", a.seed, 0, SEED_MAX)
    count("--per-class", a.per_class, 1, MAX_IMAGES)
    if a.grid:
        count("--n", a.n, 1, 1024)  # one picture: a 1024-image grid is already 32 x 32
        writable_file(a.grid, "--grid")
    for flag, path in (("--npz", a.npz), ("--gif", a.gif)):
        if path:
            writable_file(path, flag)
    for flag, path in (("--out", a.out), ("--dataset", a.dataset)):
        if path:
            writable_dir(path, flag)
    out = generate(a.run, n=a.n, seed=a.seed, cls=a.cls, checkpoint=a.checkpoint,
                   grid=a.grid, out_dir=a.out, npz=a.npz, dataset=a.dataset, per_class=a.per_class,
                   fmt=a.fmt, interpolate=a.interpolate, gif=a.gif, truncation=a.truncation)
    print(out)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from gankit.commands.evaluate import evaluate_run
    from gankit.data.cache import check_cache

    count("--n", a.n, 1, MAX_IMAGES)
    count("--seed", a.seed, 0, SEED_MAX)
    count("--cas-epochs", a.cas_epochs, 0, 1000)
    check_cache()  # reference features are cached: an unwritable cache fails now, not after minutes
    if a.images or a.against:
        return _evaluate_images(a)
    if a.out:
        raise GankitError("--out belongs to --images (a run's metrics go into RUN/metrics.json)")
    if not a.run:
        raise GankitError("evaluate: give a run directory, or --images PATH --against REF")
    a.n = 10000 if a.n is None else a.n

    if a.cas or a.privacy:
        from gankit.commands.checks import run_checks

        print(run_checks(a.run, a.cas, a.privacy, a.n, a.cas_epochs, a.checkpoint, a.seed, a.data_dir))
        return 0
    if a.cas_epochs:
        raise GankitError("--cas-epochs belongs to --cas")
    print(evaluate_run(a.run, n=a.n, checkpoint=a.checkpoint, seed=a.seed, data_dir=a.data_dir))
    return 0


def _evaluate_images(a: argparse.Namespace) -> int:
    from gankit.commands.evaluate_images import evaluate_images
    from gankit.util.paths import writable_file

    if not (a.images and a.against):
        raise GankitError("--images PATH and --against REF go together (the images to score, the real ones to "
                          "compare with)")
    if a.run or a.cas or a.privacy or a.checkpoint:
        raise GankitError("--images scores images, not a run: leave out RUN, --cas, --privacy and --checkpoint")
    if a.out:
        writable_file(a.out, "--out")
    print(evaluate_images(a.images, a.against, out=a.out, n=a.n, seed=a.seed, data_dir=a.data_dir))
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from gankit.commands.export import export_run
    from gankit.util.paths import writable_dir

    writable_dir(a.out, "--out")

    print(export_run(a.run, a.out, a.checkpoint))
    return 0


def cmd_sweep(a: argparse.Namespace) -> int:
    from gankit.studies import load_study, storage_name, sweep, write_study_report

    study = load_study(a.study, full=a.full, sets=a.sets)
    if a.workers < 1:
        raise GankitError("--workers must be >= 1")
    if a.dry_run:
        settings = study.settings()
        print(f"study {study.name}: {study.search} search, {len(settings) if settings else study.trials} settings "
              f"x {study.repeats} seeds, ranked by {study.metric} at n={study.eval_n}")
        for params in settings:
            print(f"  {study.label(params)}")
        return 0
    out = a.out or str(Path("studies") / storage_name(study))
    worker_args = [a.study, "--out", out, *(["--storage", a.storage] if a.storage else []),
                   *(["--full"] if a.full else []), *[x for s in a.sets for x in ("--set", s)],
                   *(["--data-dir", a.data_dir] if a.data_dir else [])]
    study_dir = sweep(study, out=out, storage=a.storage, workers=a.workers, data_dir=a.data_dir,
                      threads=a.threads, progress=not a.worker, worker_args=worker_args)
    if not a.worker:
        print(f"report: {write_study_report(study_dir)}")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from gankit.report.html import write_report
    from gankit.runs.layout import open_run_dir
    from gankit.studies import is_study_dir, write_study_report

    if is_study_dir(a.run):
        print(write_study_report(Path(a.run)))
    else:
        print(write_report(open_run_dir(a.run)))
    return 0


def cmd_presets(a: argparse.Namespace) -> int:
    from gankit.launch.presets import preset_dict, preset_names

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {preset_dict(name).get('description', '')}")
    return 0


def cmd_options(a: argparse.Namespace) -> int:
    from gankit.commands.options import format_options

    print(format_options(a.preset))
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    from gankit.config import Config, set_value
    from gankit.data import DATASETS, load_dataset
    from gankit.data.show import show_dataset
    from gankit.launch.presets import validate
    from gankit.util.paths import writable_file

    count("--n", a.n, 1, 1024)  # one grid picture
    writable_file(a.out, "--out")
    cfg = Config()
    if a.dataset in DATASETS:
        cfg.data.dataset = a.dataset
    elif Path(a.dataset).exists():
        cfg.data.dataset, cfg.data.path = "folder", a.dataset
    else:
        raise GankitError(f"data show {a.dataset}: not a dataset ({', '.join(DATASETS)}) nor an existing folder/zip")
    for item in a.sets:
        k, _, v = item.partition("=")
        key = k.strip() if k.strip().startswith("data.") else f"data.{k.strip()}"
        set_value(cfg, key, v.strip())
    validate(cfg)
    data = load_dataset(cfg.data, a.data_dir)
    counts = show_dataset(data, Path(a.out), n=a.n)
    print(f"{data.name}: {data.images.shape[0]} images of {tuple(data.images.shape[1:])}")
    for name, c in counts.items():
        print(f"  {name}: {c}")
    print(f"grid: {a.out}")
    return 0


def cmd_evaluator(a: argparse.Namespace) -> int:
    from gankit.data import cache_root
    from gankit.metrics.evaluator_train import train_evaluator

    # the user cache is searched by the evaluator lookup; the shipped weights are refreshed
    # only on request (--out src/gankit/metrics/weights)
    out = a.out or str(cache_root() / "evaluators")
    card = train_evaluator(a.dataset, data_dir=a.data_dir, out_dir=out, epochs=a.epochs or 0, seed=a.seed)
    print(json.dumps(card, indent=2))
    return 0


COMMANDS = {"train": cmd_train, "generate": cmd_generate, "evaluate": cmd_evaluate, "export": cmd_export,
            "sweep": cmd_sweep, "report": cmd_report, "presets": cmd_presets, "options": cmd_options, "data": cmd_data,
            "evaluator": cmd_evaluator}


def warning_line(message, category=None, filename=None, lineno=None, file=None, line=None, *,
                 debug: bool = False) -> None:
    """`warnings.showwarning` while the CLI runs: one line `gankit: warning: MESSAGE` on stderr,
    written with tqdm so it lands above any progress bar.  Filters are left alone: a library's
    warning is shown (once, by Python's default filter), never turned into an error."""
    from tqdm import tqdm

    text = " ".join(str(message).split())  # one line, whatever the message held
    where = f" ({filename}:{lineno})" if debug and filename else ""
    tqdm.write(f"gankit: warning: {text}{where}", file=sys.stderr)


def matplotlib_home() -> None:
    """Matplotlib writes its font cache under ~/.config (or $MPLCONFIGDIR); with a read-only home
    it prints a multi-line complaint.  Give it a writable folder before anything imports it."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "matplotlib"
    base = home if home.exists() else home.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not os.access(base, os.W_OK):
        os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="gankit-matplotlib-")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    matplotlib_home()
    shown = warnings.showwarning
    warnings.showwarning = lambda *w, **kw: warning_line(*w, **kw, debug=args.debug)
    try:
        return COMMANDS[args.command](args)
    except GankitError as e:
        return _fail(args, str(e), 2)
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the operating system refused a path: the user's to fix, one line
        from gankit.util.paths import os_error_message

        return _fail(args, os_error_message(e), 2)
    except Exception as e:  # a bug, not bad input: still one line, and where the traceback is
        log = getattr(e, "gankit_log", None)
        where = f" (traceback in {log})" if log else ""
        return _fail(args, f"internal error, a bug in gankit: {type(e).__name__}: {e}{where}; "
                           "rerun with --debug to see the traceback, and please report it", 1)
    finally:
        warnings.showwarning = shown


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    if args.debug:
        traceback.print_exc(file=sys.stderr)
    msg = " ".join(message.split())  # one line, whatever the message held
    print(f"gankit: error: {msg}", file=sys.stderr)
    return code
