"""Loss, accuracy and FID curves as PNGs, drawn from stats.jsonl alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

from gankit.runs.layout import RunDir  # noqa: E402
from gankit.util.atomic import atomic_path  # noqa: E402

PANELS = {
    "losses.png": ("Losses", {"d_loss_real": "D loss (real)", "d_loss_fake": "D loss (fake)", "g_loss": "G loss"}),
    "accuracy.png": ("Discriminator accuracy", {"d_acc_real": "D acc on real", "d_acc_fake": "D acc on fake",
                                                "g_fool_rate": "G fool rate"}),
    "grad_norms.png": ("Gradient norms", {"grad_norm_d": "|grad D|", "grad_norm_g": "|grad G|"}),
    # what the collapse monitor saw (training/collapse.py): near 1 is like real data, near 0 collapse
    "collapse.png": ("Collapse monitor (samples against real images)", {
        "nn_ratio": "nearest-neighbour distance ratio", "near_duplicates": "share of near-duplicates",
        "diversity_ratio": "mean pairwise distance ratio"}),
    # growing models (progan) only: the other runs' rows have no resolution, so no panel
    "ada.png": ("Adaptive augmentation (train.ada)", {"ada_p": "augmentation probability p"}),  # ada runs only
    "resolution.png": ("Progressive growing", {"resolution": "resolution (px)"}),
}


def _panel(rows: list[dict], title: str, series: dict[str, str], out: Path, ylim=None) -> bool:
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    try:
        drawn = False
        for key, label in series.items():
            pts = [(r["epoch"], r[key]) for r in rows if key in r and r[key] is not None]
            if pts:
                ax.plot(*zip(*pts), label=label, linewidth=1.2)
                drawn = True
        if drawn:
            ax.set_title(title)
            ax.set_xlabel("epoch")
            if ylim:
                ax.set_ylim(*ylim)
            ax.grid(alpha=0.3)
            ax.legend(loc="best", fontsize=8)
            fig.tight_layout()
            with atomic_path(out) as tmp:
                fig.savefig(tmp, format="png")
        return drawn
    finally:
        plt.close(fig)


def write_plots(run: RunDir) -> list[Path]:
    """(Re)draw every curve the run has data for; returns the files written."""
    rows = run.stats()
    run.plots.mkdir(exist_ok=True)
    written = []
    for name, (title, series) in PANELS.items():
        ylim = (-0.02, 1.02) if name in ("accuracy.png", "ada.png") else None
        if _panel(rows, title, series, run.plots / name, ylim):
            written.append(run.plots / name)
    evals = run.evals()
    if evals and _panel(evals, "FID (evaluator features)", {"fid": "FID"}, run.plots / "fid.png"):
        written.append(run.plots / "fid.png")
    return written
