"""`format_table`: the metrics dict of `evaluate_samples` as an aligned text table.

Each row is one metric with the model's value, the real-vs-real floor and which direction is
better, so a reader sees at once how far the model is from what real data scores.
"""

from __future__ import annotations

from gankit.util.metric_names import METRICS


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        a = abs(v)
        if a != 0 and (a < 1e-3 or a >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4f}" if a < 10 else f"{v:.2f}"
    return str(v)


def _section(metrics: dict, prefix: str, title: str) -> list[str]:
    rows = [("metric", "model", "real-vs-real floor", "better")]
    for key, m in METRICS.items():  # display order; better: low, high, ~1 (density) ...
        label, better = m.label, m.better
        if prefix + key not in metrics:
            continue
        value = metrics[prefix + key]
        floor = metrics.get("floor_" + prefix + key)
        if key == "classes_covered":
            total = metrics.get(prefix + "classes_present")
            value = f"{value}/{total}" if total is not None else value
            floor = f"{floor}/{metrics.get('floor_' + prefix + 'classes_present')}" if floor is not None else None
        label = "Inception score" if (prefix and key == "cs") else label
        rows.append((label, _fmt(value), _fmt(floor), better))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [title]
    for j, r in enumerate(rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def knn_note(metrics: dict) -> str:
    """What the k-NN metrics read when it is fewer than all n samples (metrics.json's knn_n), else ''."""
    knn = metrics.get("knn_n")
    if knn is None or knn == metrics.get("n"):
        return ""
    return f"precision/recall/density/coverage and nearest-training distances: the first {knn} samples"


def provenance_lines(metrics: dict) -> list[str]:
    """What the numbers were measured with: n, the reference split and size, the evaluators' sha256."""
    lines = []
    if "reference_split" in metrics:
        ref = metrics.get("reference")
        lines.append(f"samples: n={metrics.get('n')} · reference: {metrics['reference_split']} split"
                     + (f" ({ref})" if ref else "")
                     + f", {metrics.get('reference_size')} images ({metrics.get('reference_n')} in the FID/KID subset)")
    if knn_note(metrics):
        lines.append(knn_note(metrics))
    for prefix, name in (("", "evaluator"), ("inception_", "Inception-v3")):
        if prefix + "evaluator_sha256" in metrics:
            lines.append(f"{name} sha256: {metrics[prefix + 'evaluator_sha256']}")
    if metrics.get("small_n_warning"):
        from gankit.metrics.evaluate import small_n_message

        # not "warning:": the CLI has already shown the warning itself, as `gankit: warning: ...`
        lines.append(f"small n: {small_n_message(metrics.get('n'))}")
    return lines


def format_table(metrics: dict) -> str:
    """Aligned text: metric | model | real-vs-real floor | better, per feature space, then
    provenance (n, reference, evaluator sha256, the small-n warning) and notes."""
    lines: list[str] = []
    if "evaluator" in metrics:
        lines += _section(metrics, "", f"gankit evaluator {metrics['evaluator']}, n={metrics.get('n')}")
    if "inception_evaluator" in metrics:
        lines += [""] if lines else []
        lines += _section(metrics, "inception_", f"Inception-v3 (paper-comparable), n={metrics.get('n')}")
    lines += provenance_lines(metrics)
    if "class_hist" in metrics:
        lines.append(f"class histogram of samples: {_histogram(metrics['class_hist'])}")
    if "floor_kind" in metrics:
        lines.append(f"floor: {metrics['floor_kind']}")
    for note in metrics.get("notes", []):
        lines.append(f"note: {note}")
    if "seconds" in metrics:
        lines.append(f"({metrics['seconds']:.1f} s)")
    # `gankit evaluate --cas/--privacy/--projection`
    for key, section in (("cas", cas_lines), ("privacy", privacy_lines), ("projection", projection_lines)):
        if isinstance(metrics.get(key), dict):
            lines += ([""] if lines else []) + section(metrics[key])
    return "\n".join(lines)


def _histogram(hist) -> str:
    """The counts per class, or for many classes (StackedMNIST's 1,000 modes) how many hold samples."""
    if not isinstance(hist, list) or len(hist) <= 20:
        return str(hist)
    held = sum(1 for c in hist if c)
    return f"{held} of {len(hist)} classes hold samples (the fullest {max(hist)}; every count in metrics.json)"


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def cas_lines(cas: dict) -> list[str]:
    """The Classification Accuracy Score section: test accuracy per training set, gain, ratio."""
    acc = cas.get("accuracy", {})
    rows = [("classifier trained on", "test accuracy")]
    rows += [(f"{label} ({k * cas.get('n', 0)} images)", _fmt(acc.get(key)))
             for key, label, k in (("synthetic", "synthetic", 1), ("real", "real", 1),
                                   ("real+synthetic", "real + synthetic", 2)) if key in acc]
    lines = [f"Classification Accuracy Score, n={cas.get('n')}, {cas.get('epochs')} epochs, "
             f"tested on {cas.get('test', 'the test split')} ({cas.get('test_n')} images)"]
    lines += _aligned(rows)
    lines.append(f"CAS / real accuracy: {_fmt(cas.get('ratio'))} · augmentation gain (real + synthetic - real): "
                 f"{cas['gain']:+.4f}" if isinstance(cas.get("gain"), (int, float)) else "")
    return [line for line in lines if line]


def privacy_lines(privacy: dict) -> list[str]:
    """The privacy section: nearest-training-image distances of generated vs test images per space."""
    rows = [("space", "generated p01", "p50", "test p01", "p50", "memorisation rate", "exact copies")]
    for space in ("pixel", "feature"):
        s = privacy.get(space)
        if isinstance(s, dict):
            g, t = s.get("generated", {}), s.get("test", {})
            rows.append((space, _fmt(g.get("p01")), _fmt(g.get("p50")), _fmt(t.get("p01")), _fmt(t.get("p50")),
                         _fmt(s.get("memorisation_rate")), _fmt(s.get("exact_copies"))))
    lines = [f"Privacy: nearest-training-image distance, n={privacy.get('n')} generated vs "
             f"{privacy.get('test_size')} test images, {privacy.get('train_size')} training images"]
    lines += _aligned(rows)
    if privacy.get("threshold_definition"):
        lines.append(privacy["threshold_definition"])
    if privacy.get("pairs_png"):
        lines.append(f"closest pairs (generated | nearest training image): {privacy['pairs_png']}")
    return lines


def projection_lines(projection: dict) -> list[str]:
    """Memorisation by projection: mean reconstruction error of training vs held-out images."""
    rows = [("distance", "train", "held-out", "gap (held-out - train)", "floor gap (held-out halves)")]
    for key in ("pixel_mse", "feature_dist"):
        s = projection.get(key)
        if isinstance(s, dict):
            rows.append((key, _fmt(s.get("train")), _fmt(s.get("heldout")),
                         f"{_fmt(s.get('gap'))} ± {_fmt(s.get('gap_se'))}",
                         f"{_fmt(s.get('floor_gap'))} ± {_fmt(s.get('floor_gap_se'))}"))
    lines = [f"Projection: {projection.get('n')} training and {projection.get('n')} held-out images projected "
             f"into G ({projection.get('steps')} steps each); a gap well above its floor means memorised images"]
    return lines + _aligned(rows)
