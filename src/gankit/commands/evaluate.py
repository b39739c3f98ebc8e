"""`gankit evaluate RUN`: the run's generator scored against its reference data, into metrics.json.

The metric maths lives in gankit.metrics; this turns a run into uint8 samples and the matching
real data, merges the results into RUN/metrics.json (RunDir.merge_metrics, keeping the
--cas/--privacy results) and rewrites the report.  The periodic evaluation during training is
training/monitor.py; `final_evaluation` is the one `gankit train` ends with (train.final_eval_n).
"""

from __future__ import annotations

import os
import time

from gankit.metrics import evaluate_samples, format_table, load_test_split
from gankit.metrics.evaluate import reference_data
from gankit.metrics.evaluator_folder import evaluator_or_make, find_evaluator
from gankit.models.sampling import generated_u8
from gankit.runs.layout import CHECK_KEYS
from gankit.runs.load import load_run
from gankit.runs.tracking import sync as sync_tracker
from gankit.runtime.device import pick_device


def evaluate_run(run_dir: str, n: int = 10000, checkpoint: str | None = None, seed: int = 0,
                 data_dir: str | None = None, inception_weights: str | None = None) -> str:
    loaded = load_run(run_dir, checkpoint)
    loaded.run.read_metrics()  # a damaged metrics.json is one line now, before minutes of sampling
    real = reference_data(loaded.cfg, data_dir)
    metrics, out = _score(loaded, real, evaluator_or_make(loaded.cfg.data.dataset, real), n, checkpoint, seed,
                          data_dir, inception_weights)
    return f"{format_table(metrics)}\nwritten: {out}"


def final_evaluation(run_dir: str, n: int, data_dir: str | None = None) -> tuple[dict | None, str]:
    """The evaluation `gankit train` ends with: (metrics, "") when an evaluator for the data exists
    (shipped, or made earlier for this folder), else (None, why): making one takes minutes and
    is `gankit evaluate`'s to do, not a finished run's."""
    loaded = load_run(run_dir)
    real = reference_data(loaded.cfg, data_dir)
    evaluator = find_evaluator(loaded.cfg.data.dataset, real)
    if evaluator is None:
        return None, (f"no evaluator for this data yet; `gankit evaluate {run_dir}` makes one (a few minutes, "
                      "once) and scores the run")
    metrics, _ = _score(loaded, real, evaluator, n, None, 0, data_dir, None)
    return metrics, ""


def print_final_evaluation(run, n: int, data_dir: str | None) -> None:
    """A run that ends (finished, budget spent, early stop) is scored at train.final_eval_n and
    says how good it is in three lines.  GANKIT_FINAL_EVAL=off skips it (the test suite's many
    tiny runs; scripts that evaluate on their own)."""
    if not n or os.environ.get("GANKIT_FINAL_EVAL", "").lower() == "off":
        return
    metrics, why = final_evaluation(str(run.path), n, data_dir)
    for line in summary_lines(metrics) if metrics else [why]:
        print(line)


def _score(loaded, real, evaluator, n: int, checkpoint: str | None, seed: int, data_dir: str | None,
           inception_weights: str | None) -> tuple[dict, str]:
    cfg = loaded.cfg
    t0 = time.perf_counter()
    test = load_test_split(cfg.data, data_dir)
    device = pick_device("auto")  # sampling and embedding on the GPU where there is one
    fake = generated_u8(loaded.G, cfg, loaded.prior, n, seed, device=device)
    metrics = evaluate_samples(fake, cfg.data.dataset, real, n=n, test=test, seed=seed, device=device,
                               reference_split=cfg.data.split, evaluator=evaluator,
                               with_inception=inception_weights is not None, inception_weights=inception_weights)
    if cfg.data.dataset == "stacked-mnist":  # the mode-collapse yardstick: modes covered and their KL
        from gankit.metrics.modes import stacked_mnist_modes

        metrics.update(stacked_mnist_modes(metrics))
    # eval_seconds: sampling included (metrics' "seconds" is the measurement alone)
    metrics.update({"step": loaded.step, "checkpoint": str(checkpoint or loaded.run.last_checkpoint),
                    "sampler": loaded.sampler, "eval_seconds": round(time.perf_counter() - t0, 1)})
    # the `evaluate --cas/--privacy` results (commands/checks.py) stay; each records its own step
    out = loaded.run.merge_metrics(metrics, keep=CHECK_KEYS)
    from gankit.report.html import write_report

    write_report(loaded.run)
    sync_tracker(loaded.run, cfg, final=True)  # train.track: the scores and the new report into MLflow
    return metrics, out


def summary_lines(m: dict) -> list[str]:
    """Three lines a finished run ends with: FID beside its floor, precision and recall (with
    classes covered on labelled data), and how long the evaluation took."""
    fid = f"FID {m['fid']:.1f} (lower is better; real images score {m['floor_fid']:.1f} against other real ones)"
    pr = f"precision {m['precision']:.2f} (realism), recall {m['recall']:.2f} (variety)"
    if m.get("classes_present"):
        pr += f", classes covered {m['classes_covered']}/{m['classes_present']}"
    return [fid, pr, f"evaluated on {m['n']:,} samples in {m['eval_seconds']} s, apart from the training time"]
