"""`format_table`: the metrics dict of `evaluate_samples` as an aligned text table.

Each row is one metric with the model's value, the real-vs-real floor and which direction is
better, so a reader sees at once how far the model is from what real data scores.
"""

from __future__ import annotations

# (key, label, better) in display order; better: "low", "high" or "~1" (density)
ROWS = [
    ("fid", "FID", "low"),
    ("kid_mean", "KID (mean)", "low"),
    ("kid_std", "KID (std over subsets)", ""),
    ("cs", "classifier score", "high"),
    ("precision", "precision (k=3)", "high"),
    ("recall", "recall (k=3)", "high"),
    ("density", "density (k=5)", "~1"),
    ("coverage", "coverage (k=5)", "high"),
    ("classes_covered", "classes covered", "high"),
    ("nn_dist_mean", "nearest-train distance", "~floor"),
    ("memorised_frac", "closer than 99% of real", "~0.01"),
]


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
    for key, label, better in ROWS:
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


def format_table(metrics: dict) -> str:
    """Aligned text: metric | model | real-vs-real floor | better, per feature space, then notes."""
    lines: list[str] = []
    if "evaluator" in metrics:
        lines += _section(metrics, "", f"gankit evaluator {metrics['evaluator']}, n={metrics.get('n')}")
    if "inception_evaluator" in metrics:
        lines += [""] if lines else []
        lines += _section(metrics, "inception_", f"Inception-v3, n={metrics.get('n')}")
    if "class_hist" in metrics:
        lines.append(f"class histogram of samples: {metrics['class_hist']}")
    if "floor_kind" in metrics:
        lines.append(f"floor: {metrics['floor_kind']}")
    for note in metrics.get("notes", []):
        lines.append(f"note: {note}")
    if "seconds" in metrics:
        lines.append(f"({metrics['seconds']:.1f} s)")
    return "\n".join(lines)
