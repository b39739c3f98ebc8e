"""`gankit evaluate RUN`: the run's generator scored against its reference data, into metrics.json.

The metric maths lives in gankit.metrics; this turns a run into uint8 samples and the matching
real data, merges the results into RUN/metrics.json (RunDir.merge_metrics, keeping the
--cas/--privacy results) and rewrites the report.  The periodic evaluation during training is
training/monitor.py.
"""

from __future__ import annotations

from gankit.metrics import evaluate_samples, format_table, load_test_split
from gankit.metrics.evaluate import reference_data
from gankit.metrics.evaluator_folder import evaluator_or_make
from gankit.models.sampling import generated_u8
from gankit.runs.layout import CHECK_KEYS
from gankit.runs.load import load_run
from gankit.runtime.device import pick_device


def evaluate_run(run_dir: str, n: int = 10000, checkpoint: str | None = None, seed: int = 0,
                 data_dir: str | None = None, inception_weights: str | None = None) -> str:
    loaded = load_run(run_dir, checkpoint)
    cfg = loaded.cfg
    real = reference_data(cfg, data_dir)
    test = load_test_split(cfg.data, data_dir)
    evaluator = evaluator_or_make(cfg.data.dataset, real)
    device = pick_device("auto")  # sampling and embedding on the GPU where there is one
    fake = generated_u8(loaded.G, cfg, loaded.prior, n, seed, device=device)
    metrics = evaluate_samples(fake, cfg.data.dataset, real, n=n, test=test, seed=seed, device=device,
                               reference_split=cfg.data.split, evaluator=evaluator,
                               with_inception=inception_weights is not None, inception_weights=inception_weights)
    metrics.update({"step": loaded.step, "checkpoint": str(checkpoint or loaded.run.last_checkpoint),
                    "sampler": loaded.sampler})
    # the `evaluate --cas/--privacy` results (commands/checks.py) stay; each records its own step
    out = loaded.run.merge_metrics(metrics, keep=CHECK_KEYS)
    from gankit.report.html import write_report

    write_report(loaded.run)
    return f"{format_table(metrics)}\nwritten: {out}"


