"""One function per `gankit` subcommand: check the arguments, call the layer below, print the result.

Each returns the exit code; a GankitError raised anywhere below is the CLI's one-line error
(cli/__init__.py).  Heavy imports stay inside the functions, so `gankit presets` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gankit.errors import GankitError


def cmd_train(a: argparse.Namespace) -> int:
    from gankit.config import from_dict, set_value
    from gankit.launch.presets import build_config, validate
    from gankit.commands.evaluate import print_final_evaluation
    from gankit.launch.start import start_run
    from gankit.runs.layout import open_run_dir
    from gankit.runtime.distributed import setup, teardown

    dist = setup()  # one process, or this rank's place under torchrun
    if a.resume:
        run = open_run_dir(a.resume)
        ignored = [flag for flag, given in (("--preset", a.preset), ("--config", a.config), ("--set", a.sets),
                                            ("--init-from", a.init_from), ("--seed", a.seed is not None),
                                            ("--name", a.name), ("--out", a.out)) if given]
        if ignored:  # a flag a resume cannot honour is refused, never dropped without a word
            raise GankitError(f"--resume continues a run with its own config, so {', '.join(ignored)} cannot apply; "
                              "only --epochs and --budget may change it (start a new run for other settings)")
        cfg = from_dict(run.read_config())
        if a.epochs is not None:  # --epochs 0 is refused by validate, not ignored
            set_value(cfg, "train.epochs", a.epochs)
        if a.budget:
            set_value(cfg, "train.budget", a.budget)
        validate(cfg)
        if a.dry_run:  # the config the resume would train with; nothing loaded, trained or written
            if dist.main:
                print(cfg.to_json())
            return 0
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
        run, summary = start_run(cfg, out=a.out or "runs", name=a.name, at=a.resume, resume=bool(a.resume),
                                 data_dir=a.data_dir, dist=dist)
    finally:
        teardown(dist)
    if dist.main:
        state = "interrupted, saved" if summary["interrupted"] else "done"
        if a.resume:  # the seconds are this session's, the steps the run's
            print(f"{state}: at step {summary['step']}, this session {summary['seconds']} s "
                  f"({summary['img_per_s']} img/s)")
        else:
            print(f"{state}: {summary['step']} steps in {summary['seconds']} s ({summary['img_per_s']} img/s)")
        if not summary["interrupted"]:
            print_final_evaluation(run, cfg.train.final_eval_n, a.data_dir)
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
                   fmt=a.fmt, interpolate=a.interpolate, gif=a.gif, truncation=a.truncation, latent=a.latent)
    print(out)
    return 0


def cmd_project(a: argparse.Namespace) -> int:
    from gankit.commands.project import project
    from gankit.util.paths import writable_dir

    count("--steps", a.steps, 1, 100_000)
    count("--seed", a.seed, 0, SEED_MAX)
    writable_dir(a.out, "--out")
    print(project(a.run, a.images, a.out, cls=a.cls, steps=a.steps, seed=a.seed, checkpoint=a.checkpoint))
    return 0


def cmd_app(a: argparse.Namespace) -> int:
    from gankit.commands.app import serve

    serve(a.run, port=a.port, host=a.host, checkpoint=a.checkpoint)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from gankit.commands.evaluate import evaluate_run
    from gankit.data.cache import check_cache

    count("--n", a.n, 1, MAX_IMAGES)
    count("--seed", a.seed, 0, SEED_MAX)
    count("--cas-epochs", a.cas_epochs, 0, 1000)
    check_cache()  # reference features are cached: an unwritable cache fails now, not after minutes
    if a.inception_weights and not a.inception:
        raise GankitError("--inception-weights belongs to --inception")
    if a.inception:
        from gankit.metrics import inception_status
        from gankit.metrics.inception import check_weights_file

        if a.cas or a.privacy or a.projection:
            raise GankitError("--inception adds Inception-v3 figures to FID etc.; leave out --cas, --privacy and "
                              "--projection")
        path, message = inception_status(a.inception_weights)
        if path is None:  # before any sampling: say what is missing and where it goes
            raise GankitError(f"--inception: {message.removeprefix('Inception-v3 metrics skipped: ')}")
        check_weights_file(path)  # a damaged or foreign file: one line now, not after the sampling
        a.inception_weights = str(path)
    if a.images or a.against:
        return _evaluate_images(a)
    if a.out:
        raise GankitError("--out belongs to --images (a run's metrics go into RUN/metrics.json)")
    if not a.run:
        raise GankitError("evaluate: give a run directory, or --images PATH --against REF")
    if a.projection and (a.cas or a.privacy):
        raise GankitError("--projection projects N images a side (default 200), --cas and --privacy score N "
                          "samples (default 10000): run them one at a time")
    a.n = (200 if a.projection else 10000) if a.n is None else a.n

    if a.cas or a.privacy or a.projection:
        from gankit.commands.checks import run_checks

        print(run_checks(a.run, a.cas, a.privacy, a.n, a.cas_epochs, a.checkpoint, a.seed, a.data_dir,
                         projection=a.projection))
        return 0
    if a.cas_epochs:
        raise GankitError("--cas-epochs belongs to --cas")
    print(evaluate_run(a.run, n=a.n, checkpoint=a.checkpoint, seed=a.seed, data_dir=a.data_dir,
                       inception_weights=a.inception_weights))
    return 0


def _evaluate_images(a: argparse.Namespace) -> int:
    from gankit.commands.evaluate_images import evaluate_images
    from gankit.util.paths import writable_file

    if not (a.images and a.against):
        raise GankitError("--images PATH and --against REF go together (the images to score, the real ones to "
                          "compare with)")
    if a.run or a.cas or a.privacy or a.projection or a.checkpoint:
        raise GankitError("--images scores images, not a run: leave out RUN, --cas, --privacy, --projection and "
                          "--checkpoint")
    if a.out:
        writable_file(a.out, "--out")
    print(evaluate_images(a.images, a.against, out=a.out, n=a.n, seed=a.seed, data_dir=a.data_dir,
                          inception_weights=a.inception_weights))
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from gankit.commands.export import export_run
    from gankit.util.paths import writable_dir

    writable_dir(a.out, "--out")

    print(export_run(a.run, a.out, a.checkpoint, a.format))
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
    from gankit.commands.options import format_markdown, format_options

    if a.markdown and a.preset:
        raise GankitError("--markdown writes the reference page of the built-in defaults and the default preset; "
                          "leave out --preset")
    print(format_markdown() if a.markdown else format_options(a.preset), end="\n" if not a.markdown else "")
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    from gankit.data import load_dataset
    from gankit.launch.presets import data_config
    from gankit.data.show import show_dataset
    from gankit.util.paths import writable_file

    count("--n", a.n, 1, 1024)  # one grid picture
    writable_file(a.out, "--out")
    cfg = data_config(a.dataset, a.sets, "data show")
    data = load_dataset(cfg.data, a.data_dir)
    counts = show_dataset(data, Path(a.out), n=a.n)
    print(f"{data.name}: {data.images.shape[0]} images of {tuple(data.images.shape[1:])}")
    for name, c in counts.items():
        print(f"  {name}: {c}")
    print(f"grid: {a.out}")
    return 0


def cmd_evaluator(a: argparse.Namespace) -> int:
    from gankit.data import cache_root, load_dataset
    from gankit.launch.presets import data_config
    from gankit.metrics.evaluator_folder import train_data_evaluator
    from gankit.metrics.evaluator_train import RECIPES, train_evaluator

    # the user cache is searched by the evaluator lookup; the shipped weights are refreshed
    # only on request (--out src/gankit/metrics/weights)
    out = a.out or str(cache_root() / "evaluators")
    if a.dataset in RECIPES and not a.sets and a.method == "auto":  # a shipped evaluator's own recipe
        card = train_evaluator(a.dataset, data_dir=a.data_dir, out_dir=out, epochs=a.epochs or 0, seed=a.seed)
    else:  # any other data: a classifier on labelled images, SimCLR on unlabelled ones
        if a.dataset is None and not a.sets:
            raise GankitError("gankit evaluator train: name a dataset or folder/zip, or --set data.dataset=folder "
                              "--set data.path=PATH")
        if a.epochs:
            raise GankitError("--epochs is for the shipped recipes (fashion-mnist, mnist, cifar10, cifar10-catdog); "
                              "an evaluator for other data follows its own schedule (docs/evaluation.md)")
        cfg = data_config(a.dataset, a.sets, "evaluator train")
        data = load_dataset(cfg.data, a.data_dir)
        card = train_data_evaluator(data, a.method, seed=a.seed, out_dir=out,
                                    log=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(card, indent=2))
    return 0
