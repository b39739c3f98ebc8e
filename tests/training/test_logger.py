"""The training logger's epoch upkeep: the loss plots are redrawn at most every PLOT_EVERY_S
seconds, so a dataset of a few images (one step an epoch) trains instead of drawing, and the
plots that close() leaves hold every row."""

from __future__ import annotations

import pytest
from tiny_runs import FASHION, TINY, resolved_train

import gankit.report.html as html
import gankit.report.plots as plots
from gankit.launch.presets import build_config
from gankit.runs.layout import create_run_dir


def test_one_step_epochs_draw_the_plots_once_and_again_at_the_end(tmp_path, monkeypatch):
    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    drawn = []
    real = plots.write_plots

    def counted(run, *a, **k):
        drawn.append(len(run.stats_file.read_text().splitlines()))  # rows in stats.jsonl when drawn
        return real(run, *a, **k)

    monkeypatch.setattr(plots, "write_plots", counted)
    monkeypatch.setattr(html, "write_plots", counted)
    sets = [s for s in TINY if not s.startswith(("train.max_steps", "data.limit", "train.batch_size", "train.log_every"))]
    cfg = build_config(sets=[*sets, "data.limit=16", "train.batch_size=16", "train.max_steps=12", "train.log_every=1",
                             "train.epochs=100", "model.conditional=false", "train.eval_every=0"])
    run = create_run_dir(tmp_path, "tiny-data")
    run.write_config(cfg)
    resolved_train(cfg, run, data_dir=str(FASHION))
    assert len(drawn) == 2  # 12 one-step epochs: the first epoch's plots, and the last rows' at the end
    assert drawn[-1] == len(run.stats_file.read_text().splitlines()) == 12
    assert (run.path / "plots" / "losses.png").is_file()
