"""`gankit evaluate RUN --cas`, `--privacy` and `--projection`: the synthetic-data checks of a run.

Each turns the run into the tensors its metric module needs (metrics/cas.py,
metrics/privacy.py, commands/project.py), then merges its result into RUN/metrics.json under its
own key ("cas", "privacy", "projection"), leaving every other key as it was, and rewrites the report.  Both record the step
and checkpoint they measured, since they may be newer or older than the rest of the file.
"""

from __future__ import annotations

import sys
import time

from gankit.data import load_dataset, num_classes
from gankit.errors import GankitError
from gankit.models.sampling import sample
from gankit.runs.load import LoadedRun, load_run
from gankit.util.imageio import save_image, to_uint8


def _provenance(loaded: LoadedRun, checkpoint: str | None) -> dict:
    return {"step": loaded.step, "checkpoint": str(checkpoint or loaded.run.last_checkpoint),
            "sampler": loaded.sampler}


def _test_split(loaded: LoadedRun, data_dir: str | None, what: str):
    from gankit.metrics import load_test_split

    test = load_test_split(loaded.cfg.data, data_dir)
    if test is None:
        raise GankitError(f"{what} needs the real test split of {loaded.cfg.data.dataset}, which is not available "
                          "here (a run trained on the test split, or a folder without train/ and test/ sub-folders)")
    return test


def cas_run(run_dir: str, n: int = 10000, epochs: int = 0, checkpoint: str | None = None, seed: int = 0,
            data_dir: str | None = None, log=None) -> dict:
    """CAS of a conditional run at N synthetic vs N real images (balanced), merged into metrics.json."""
    from gankit.commands.synthetic import balanced_counts, balanced_labels
    from gankit.metrics.cas import DEFAULT_EPOCHS, balanced_real, classification_accuracy_score, classifier_recipe
    from gankit.metrics.evaluate import reference_data
    from gankit.models.sampling import trained_classes

    loaded = load_run(run_dir, checkpoint)
    cfg = loaded.cfg
    if not cfg.model.conditional:
        raise GankitError(f"--cas: run {run_dir} is unconditional (model.conditional=false); the Classification "
                          "Accuracy Score needs labelled samples from a class-conditional run")
    present = [int(c) for c in trained_classes(loaded.prior)]
    if n < 10 * len(present):
        raise GankitError(f"--n {n}: too few images to train a classifier on {len(present)} classes; "
                          f"use --n >= {10 * len(present)}")
    test = _test_split(loaded, data_dir, "--cas")
    real = reference_data(cfg, data_dir)
    _, _, h, w = real.images.shape
    if h != w:
        raise GankitError(f"--cas: images are {h}x{w}; the classifier needs square images (set data.resolution)")
    counts = balanced_counts(n, present)
    try:
        real_x, real_y = balanced_real(real.images, real.labels, counts, seed)
    except ValueError as e:
        raise GankitError(f"--cas --n {n}: {real.name}: {e}; use a smaller --n") from None
    labels = balanced_labels(counts)
    x, _ = sample(loaded.G, n, seed, loaded.prior, labels)
    fake_x = to_uint8(x, cfg.data.range)
    recipe = classifier_recipe(cfg.data.dataset, real.class_names, h)
    result = classification_accuracy_score(fake_x, labels, real_x, real_y, test.images, test.labels,
                                           num_classes(real.class_names), recipe, epochs or DEFAULT_EPOCHS,
                                           seed, log=log or (lambda m: print(m, file=sys.stderr)))
    per_class = {real.class_names[c]: k for c, k in counts.items()}
    result.update({"test": test.name, "real": real.name, "per_class": per_class})
    result.update(_provenance(loaded, checkpoint))
    loaded.run.merge_metrics({"cas": result})
    return result


def privacy_run(run_dir: str, n: int = 10000, checkpoint: str | None = None, seed: int = 0,
                data_dir: str | None = None, pairs: int = 8) -> dict:
    """Nearest-training-image distances of n samples vs the test split's, merged into metrics.json,
    with the closest pairs written to RUN/samples/privacy_pairs.png."""
    from gankit.metrics import privacy as pv
    from gankit.metrics.evaluator_folder import find_evaluator
    from gankit.metrics.reference import cached_embedding, cached_json, content_hash, reference_key
    from gankit.models.sampling import generated_u8

    t0 = time.time()
    if n < 1:
        raise GankitError(f"--n {n}: must be at least 1")
    loaded = load_run(run_dir, checkpoint)
    cfg = loaded.cfg
    # the images G was trained on: the run's own data options, data.limit included
    train = load_dataset(cfg.data, data_dir)
    test = _test_split(loaded, data_dir, "--privacy")
    fake = generated_u8(loaded.G, cfg, loaded.prior, n, seed)
    data_key = f"{content_hash(train.images)[:12]}-{content_hash(test.images)[:12]}"

    gen_px, idx_px = pv.nearest_neighbours(pv.pixel_vectors(fake), pv.pixel_vectors(train.images))
    unseen = cached_json(f"privacy-pixel-{data_key}", lambda: pv.unseen_stats(
        pv.nearest_neighbours(pv.pixel_vectors(test.images), pv.pixel_vectors(train.images))[0]))
    spaces = {"pixel": {"space": "pixels as vectors of values in [0, 1], Euclidean distance",
                        **pv.space_report(gen_px, unseen)}}
    ev = find_evaluator(cfg.data.dataset, train)  # shipped, or made for this data (never trained here)
    if ev is not None:
        def embed(name: str, split: str, images):
            key = reference_key(name, split, ev.sha256, images)
            return cached_embedding(key, images, lambda x: ev.embed(x))[0]

        train_f, test_f = embed(train.name, "ref", train.images), embed(test.name, "test", test.images)
        gen_f, _ = pv.nearest_neighbours(ev.embed(fake)[0], train_f)
        unseen_f = cached_json(f"privacy-feature-{ev.sha256[:12]}-{data_key}",
                               lambda: pv.unseen_stats(pv.nearest_neighbours(test_f, train_f)[0]))
        spaces["feature"] = {"space": f"gankit evaluator {ev.key} features (128-d), Euclidean distance",
                             "evaluator_sha256": ev.sha256, **pv.space_report(gen_f, unseen_f)}
    grid, dists = pv.closest_pairs(fake, train.images, gen_px, idx_px, k=pairs)
    save_image(grid.numpy(), loaded.run.privacy_pairs)
    result = {"n": int(fake.shape[0]), "train": train.name, "train_size": len(train), "test": test.name,
              "test_size": len(test), "threshold_definition": pv.THRESHOLD_DEFINITION,
              "memorisation_rate": spaces["pixel"]["memorisation_rate"], **spaces,
              "pairs_png": str(loaded.run.privacy_pairs.relative_to(loaded.run.path)), "pairs_space": "pixel", "pairs_distances": [round(d, 4) for d in dists],
              "seconds": round(time.time() - t0, 1)}
    result.update(_provenance(loaded, checkpoint))
    loaded.run.merge_metrics({"privacy": result})
    return result


def _spread(a, b) -> tuple[float, float]:
    """mean(a) - mean(b) and its standard error (two independent samples)."""
    return float(a.mean() - b.mean()), float((a.var() / len(a) + b.var() / len(b)).sqrt())


def projection_run(run_dir: str, n: int = 200, checkpoint: str | None = None, seed: int = 0,
                   data_dir: str | None = None, steps: int = 300) -> dict:
    """Memorisation by projection: n training images and n held-out ones projected into G; a G that
    reconstructs its training images better than unseen ones has memorised them.  The floor is the
    same gap between two halves of the held-out images (what chance alone gives)."""
    import torch

    from gankit.commands.project import project_batch, projector
    from gankit.metrics.reference import subset_indices

    t0 = time.time()
    if n < 2:
        raise GankitError(f"--n {n}: --projection needs at least 2 images a side")
    gen, _, evaluator, notes = projector(run_dir, checkpoint)
    if gen.run is None:
        raise GankitError(f"--projection: {run_dir} is an export; give the run directory (its training data and "
                          "metrics.json)")
    cfg = gen.cfg
    train = load_dataset(cfg.data, data_dir)  # the images G was trained on, data.limit included
    test = _test_split(gen, data_dir, "--projection")
    n = min(n, len(train), len(test))
    sides = {"train": train.images[subset_indices(len(train), n, seed)],
             "heldout": test.images[subset_indices(len(test), n, seed + 1)]}
    errors = {}
    for side, images in sides.items():
        pix, feat = [], []
        for chunk in images.split(64):
            r = project_batch(gen, chunk, evaluator, None, steps, seed)
            pix.append(r["pixel_mse"])
            feat.append(r["feature_dist"] if r["feature_dist"] is not None else torch.zeros(0))
        errors[side] = {"pixel_mse": torch.cat(pix).double(), "feature_dist": torch.cat(feat).double()}
    result = {"n": n, "steps": steps, "train": train.name, "train_size": len(train), "heldout": test.name,
              "notes": notes}
    for key in ("pixel_mse", "feature_dist"):
        tr, ho = errors["train"][key], errors["heldout"][key]
        if not len(tr):
            continue
        gap, se = _spread(ho, tr)
        half = len(ho) // 2
        floor, floor_se = _spread(ho[half:], ho[:half])
        result[key] = {"train": float(tr.mean()), "heldout": float(ho.mean()), "gap": gap, "gap_se": se,
                       "floor_gap": floor, "floor_gap_se": floor_se}
    result.update(_provenance(gen, checkpoint), seconds=round(time.time() - t0, 1))
    gen.run.merge_metrics({"projection": result})
    return result


def run_checks(run_dir: str, cas: bool, privacy: bool, n: int, epochs: int = 0, checkpoint: str | None = None,
               seed: int = 0, data_dir: str | None = None, projection: bool = False) -> str:
    """The CLI's `evaluate --cas/--privacy/--projection`: run the asked checks, rewrite the report;
    returns the table."""
    from gankit.metrics import format_table
    from gankit.report.html import write_report
    from gankit.runs.layout import open_run_dir

    open_run_dir(run_dir).read_metrics()  # a damaged metrics.json is one line now, before the checks' minutes
    metrics = {}
    if cas:
        metrics["cas"] = cas_run(run_dir, n, epochs, checkpoint, seed, data_dir)
    if privacy:
        metrics["privacy"] = privacy_run(run_dir, n, checkpoint, seed, data_dir)
    if projection:
        metrics["projection"] = projection_run(run_dir, n, checkpoint, seed, data_dir)
    run = open_run_dir(run_dir)
    write_report(run)
    return f"{format_table(metrics)}\nwritten: {run.path / 'metrics.json'}"
