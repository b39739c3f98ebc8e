"""Evaluation of generated images: gankit's own evaluators and the metrics.

Public interface (what the CLI and the training loop use):
- `evaluate_samples(fake_u8, dataset_key, real, *, n, device, kid_subsets, with_inception, test, evaluator,
  inception_weights)`
  -> flat dict of metrics and their real-vs-real floors (`floor_*`), plus PROVENANCE_KEYS (n, reference
  split and size, evaluator sha256, small_n_warning: a GankitWarning below MIN_COMPARABLE_N samples)
- `evaluator_for(dataset_key, class_names)` -> the shipped evaluator, or None
- `evaluator_folder.find_evaluator(dataset_key, data)` -> the shipped one, else the one made for
  this data (keyed by its fingerprint), or None; `evaluator_or_make` trains it when missing
- `load_test_split(data_cfg, data_dir)` -> the test split for the floor, or None
- `format_table(metrics)` -> aligned text table
- `train_evaluator(dataset_key, data_dir, out_dir, epochs, seed)` -> card (`gankit evaluator train`)
- `inception_status()` -> (weights path or None, message)

See docs/evaluation.md for what each metric means and how the evaluators were trained.
"""

from gankit.metrics.inception import fidelity_without_torchvision

fidelity_without_torchvision()  # before anything imports torchmetrics.image (metrics/inception.py says why)

from gankit.metrics.evaluate import MIN_COMPARABLE_N, PROVENANCE_KEYS, evaluate_samples, load_test_split  # noqa: E402
from gankit.metrics.evaluator import Evaluator, evaluator_for  # noqa: E402
from gankit.metrics.evaluator_train import RECIPES, train_evaluator  # noqa: E402
from gankit.metrics.inception import inception_status  # noqa: E402
from gankit.metrics.table import format_table  # noqa: E402

__all__ = ["Evaluator", "MIN_COMPARABLE_N", "PROVENANCE_KEYS", "RECIPES", "evaluate_samples",
           "evaluator_for", "format_table", "inception_status", "load_test_split", "train_evaluator"]

# the collapse monitor that watches training is training/collapse.py (its hints are training's rules)
