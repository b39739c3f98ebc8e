"""The verb table: each `gankit` verb is one `Verb` (its name, help line, flags and handler), and
the parser and the dispatch are both built from `VERBS` (DiT's registry that doubles as the
CLI's choices).  Adding a verb is a handler and its flags, plus one line here
(docs/extending.md).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

from gankit.cli import handlers, parser


@dataclass(frozen=True)
class Verb:
    name: str  # what the user types: `gankit NAME`
    help: str  # its line in `gankit --help`
    args: Callable[[argparse.ArgumentParser], None]  # adds the verb's flags to its subparser
    run: Callable[[argparse.Namespace], int]  # the handler: parsed flags -> exit code


VERBS: dict[str, Verb] = {v.name: v for v in (
    Verb("train", "train a GAN into a new run directory (or --resume one)", parser.train_args, handlers.cmd_train),
    Verb("generate", "sample images from a trained run or an exported generator", parser.generate_args,
         handlers.cmd_generate),
    Verb("project", "find the latent whose sample is closest to each image (written beside it, with a GIF)",
         parser.project_args, handlers.cmd_project),
    Verb("app", "a local page to play with a run: seed, class, truncation, interpolation, projection (Gradio)",
         parser.app_args, handlers.cmd_app),
    Verb("evaluate", "FID, KID, precision/recall... of a trained run, or of any images (--images PATH --against REF)",
         parser.evaluate_args, handlers.cmd_evaluate),
    Verb("export", "write the generator alone (safetensors or ONNX + config.json) for inference", parser.export_args,
         handlers.cmd_export),
    Verb("sweep", "run a study: a grid, random or TPE search over config keys, K seeds each", parser.sweep_args,
         handlers.cmd_sweep),
    Verb("report", "(re)write the report of a run directory or a study directory", parser.report_args,
         handlers.cmd_report),
    Verb("presets", "list the shipped presets", parser.presets_args, handlers.cmd_presets),
    Verb("options", "every config key with its default and meaning", parser.options_args, handlers.cmd_options),
    Verb("data", "dataset tools", parser.data_args, handlers.cmd_data),
    Verb("evaluator", "the evaluator networks behind FID/KID/...", parser.evaluator_args, handlers.cmd_evaluator),
)}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gankit", description="Train, explore and measure GANs on image datasets.")
    ap.add_argument("--debug", action="store_true",
                    help="print the traceback of an error (and where each warning came from) as well")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb in VERBS.values():
        verb.args(sub.add_parser(verb.name, help=verb.help))
    return ap
