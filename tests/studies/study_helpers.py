"""Helpers for the study tests (import as `from study_helpers import tiny_study`)."""

from __future__ import annotations

from gankit.studies.spec import Study, parse_study

# a few G steps of a narrow DCGAN on 256 images: enough for every file a trial writes
# the non-saturating loss, not the default's hinge: variants may smooth or flip its targets
TINY_SET = {"data.limit": 256, "train.epochs": 2, "train.batch_size": 64, "model.g_width": 8,
            "model.d_width": 8, "train.log_every": 2, "train.tensorboard": False, "loss.name": "ns"}


def tiny_study(name: str = "tiny", axes: dict | None = None, **top) -> Study:
    """A Study over TINY_SET; `axes` and top-level keys as in a study file."""
    d = {"preset": "dcgan", "eval_n": 200, "set": dict(TINY_SET), "axes": axes or {"loss.name": ["ns", "hinge"]}}
    d.update(top)
    return parse_study(d, name, f"study {name}")
