"""A study's figures: curves of every trial overlaid, and each trial's grids as a GIF.

Drawn from the trials' stats.jsonl, evals.jsonl and samples/ alone, into STUDY/plots and
STUDY/gifs; one colour per setting, so the seeds of a setting read as one band.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from gankit.runs.layout import RunDir  # noqa: E402
from gankit.studies.results import StudyResults  # noqa: E402
from gankit.util.atomic import atomic_path  # noqa: E402

CURVES = {  # file -> (title, stats column, source file)
    "d_loss.png": ("D loss", "d_loss", "stats"),
    "g_loss.png": ("G loss", "g_loss", "stats"),
    "d_acc_real.png": ("D accuracy on real", "d_acc_real", "stats"),
    "d_acc_fake.png": ("D accuracy on fake", "d_acc_fake", "stats"),
    "fid.png": ("FID during training (train.eval_every)", "fid", "evals"),
}


def overlaid_curves(res: StudyResults) -> list[Path]:
    out_dir = res.path / "plots"
    out_dir.mkdir(exist_ok=True)
    colours = plt.get_cmap("tab10" if len(res.settings) <= 10 else "tab20")
    written = []
    logs: dict[tuple[Path, str], list[dict]] = {}  # each trial's stats / evals, read once for all curves

    def rows_of(path: Path, source: str) -> list[dict]:
        if (path, source) not in logs:
            run = RunDir(path)
            logs[path, source] = run.stats() if source == "stats" else run.evals()
        return logs[path, source]

    for name, (title, key, source) in CURVES.items():
        fig, ax = plt.subplots(figsize=(7.5, 3.8), dpi=100)
        try:
            drawn = False
            for i, s in enumerate(res.settings):
                for j, t in enumerate(s.trials):
                    pts = [(r["epoch"], r[key]) for r in rows_of(t.path, source) if r.get(key) is not None]
                    if pts:
                        ax.plot(*zip(*pts), color=colours(i % colours.N), linewidth=1.0, alpha=0.8,
                                label=s.label if j == 0 else None)
                        drawn = True
            if drawn:
                ax.set_title(title)
                ax.set_xlabel("epoch")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
                fig.tight_layout()
                with atomic_path(out_dir / name) as tmp:
                    fig.savefig(tmp, format="png")
                written.append(out_dir / name)
        finally:
            plt.close(fig)
    return written


def grid_files(run_path: Path) -> list[tuple[float, Path]]:
    """A trial's fixed-noise grids in the order they were taken: (epoch, file)."""
    out = []
    for e in RunDir(run_path).events():
        if e.get("event") == "samples" and "fixed" in e and (run_path / e["fixed"]).is_file():
            out.append((float(e["epoch"]), run_path / e["fixed"]))
    return out


def trial_gif(run_path: Path, out: Path, ms_per_frame: int = 600) -> Path | None:
    frames = [Image.open(f).convert("RGB") for _, f in grid_files(run_path)]
    if not frames:
        return None
    out.parent.mkdir(exist_ok=True)
    with atomic_path(out) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=ms_per_frame, loop=0)
    return out
