"""The study page and summary: escaping, the ranking's arithmetic, what the page shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gankit.studies import load_results, write_study_report
from gankit.studies.report import build_study_report, build_summary
from gankit.studies.results import Setting, StudyResults, TrialResult, compare_axes, format_value


def results(values: dict[tuple[str, str, int], float], maximise_metric: str = "fid") -> StudyResults:
    """Synthetic results over axes a (x/y) and b (p/q): {(a, b, repeat): value}."""
    trials = [TrialResult(Path(f"t{i}"), f"a={a} · b={b}", {"a": a, "b": b}, r, r, v, None, 1.0, {})
              for i, ((a, b, r), v) in enumerate(values.items())]
    study = {"name": "s", "metric": maximise_metric, "repeats": 2, "eval_n": 100, "preset": "dcgan",
             "search": "grid", "axes": [{"name": "a", "keys": ["a"], "values": ["x", "y", "z"]},
                                        {"name": "b", "keys": ["b"], "values": ["p", "q"]}]}
    return StudyResults(Path("."), study, trials, [])


def test_a_consistent_difference_is_reported_with_its_spread():
    # a=y is 20 +- 2 worse than a=x in every pairing; b makes no consistent difference
    res = results({("x", "p", 0): 100, ("y", "p", 0): 120, ("x", "q", 0): 110, ("y", "q", 0): 132,
                   ("x", "p", 1): 101, ("y", "p", 1): 119, ("x", "q", 1): 100, ("y", "q", 1): 122})
    by_axis = {c.axis: c for c in compare_axes(res)}
    a = by_axis["a"]
    assert (a.winner, a.loser, a.pairs, a.significant) == ("a=x", "a=y", 4, True)
    assert a.diff == pytest.approx(20.5) and a.spread == pytest.approx(1.915, abs=1e-3)
    assert a.sentence("fid") == "a=x beats a=y by 20.5 ± 1.91 fid (4 paired runs)"
    assert len(compare_axes(res)) == 2  # one comparison per non-reference choice that ran
    b = by_axis["b"]
    assert not b.significant and b.sentence("fid").startswith("the difference between")
    assert "within noise" in b.sentence("fid")


def test_for_a_metric_where_higher_is_better_the_higher_side_wins():
    res = results({("x", "p", 0): 0.5, ("y", "p", 0): 0.7, ("x", "p", 1): 0.52, ("y", "p", 1): 0.69,
                   ("x", "p", 2): 0.51, ("y", "p", 2): 0.71},
                  maximise_metric="recall")
    a = next(c for c in compare_axes(res) if c.axis == "a")
    assert a.winner == "a=y" and a.significant


def test_each_choice_is_compared_with_the_axis_s_first_choice_by_a_paired_t_test():
    # z is 6 +- 5 better than x over 3 pairs: t = 2.1 < 4.30 (df 2), so within noise;
    # y is 30 +- 5 worse: t = 10.4, real
    res = results({("x", "p", 0): 100, ("y", "p", 0): 125, ("z", "p", 0): 89,
                   ("x", "p", 1): 100, ("y", "p", 1): 130, ("z", "p", 1): 94,
                   ("x", "p", 2): 100, ("y", "p", 2): 135, ("z", "p", 2): 99})
    comps = [c for c in compare_axes(res) if c.axis == "a"]
    assert [(c.winner, c.loser) for c in comps] == [("a=x", "a=y"), ("a=z", "a=x")]
    assert comps[0].significant and not comps[1].significant


def test_a_single_pair_has_no_spread_and_says_so():
    res = results({("x", "p", 0): 100, ("y", "p", 0): 120})
    a = next(c for c in compare_axes(res) if c.axis == "a")
    assert a.spread is None and "no spread" in a.sentence("fid")


def test_settings_aggregate_their_seeds():
    s = Setting("x", {}, [TrialResult(Path("a"), "x", {}, r, r, v, None, 1.0, {}) for r, v in enumerate([10, 14])])
    assert s.mean == 12 and s.std == pytest.approx(2.828, abs=1e-3) and s.values == [10, 14]
    assert format_value(s) == "12 ± 2.8"
    wide = Setting("y", {}, [TrialResult(Path("b"), "y", {}, r, r, v, None, 1.0, {}) for r, v in enumerate([893, 1133])])
    assert format_value(wide) == "1013 ± 170"  # no exponent notation for FID-sized spreads


def test_the_page_escapes_every_hostile_string(finished_study, tmp_path):
    page = write_study_report(finished_study).read_text()
    for raw in ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "hostile<b>"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.count("<script>") == 1  # the page's own sorting code, nothing else


def test_the_page_shows_every_trial_with_grids_gifs_curves_and_config_differences(finished_study):
    res = load_results(finished_study)
    page = write_study_report(finished_study).read_text()
    assert len(res.trials) == 4 and all(t.value is not None for t in res.trials)
    for t in res.trials:
        assert t.name in page  # each trial's GIF caption
        assert (finished_study / "gifs" / f"{t.name}.gif").stat().st_size > 0
    assert page.count("data:image/gif;base64") == 4
    assert "id='results'" in page and "class='best'" in page
    assert "loss.real_label" in page and "class='diff'" in page  # the key the variant changes
    for curve in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        assert (finished_study / "plots" / f"{curve}.png").is_file()
    assert "epoch 1" in page and "epoch 2" in page  # grids side by side at shared epochs


def test_the_markdown_summary_has_the_ranking_and_a_table(finished_study):
    write_study_report(finished_study)
    md = (finished_study / "summary.md").read_text()
    assert md.startswith("## Study hostile&lt;b&gt;")  # no raw HTML from a study name either
    assert "<script>" not in md
    assert "| # | setting | fid | seeds |" in md and "best setting:" in md
    assert md.count("\n| ") == 3  # the header and one row per setting
    assert "paired run" in md
    trial = json.loads(next((finished_study / "trials").glob("*/trial.json")).read_text())
    assert trial["metric"] == "fid" and trial["seconds"] > 0


def test_budgeted_trials_that_ended_at_different_epochs_show_each_last_grid(tmp_path, monkeypatch):
    # a fast setting took grids at epochs 1-6, a slow one at 1-2 in the same budget: the shared
    # epochs, then each trial's own last grid (before, epoch 1 alone was shown for such studies)
    from PIL import Image

    from gankit.studies import report

    grids = {}
    for name, epochs in (("fast", range(1, 7)), ("slow", range(1, 3))):
        grids[Path(name)] = []
        for e in epochs:
            f = tmp_path / f"{name}-{e}.png"
            Image.new("L", (4, 4), 40 * e).save(f)
            grids[Path(name)].append((float(e), f))
    monkeypatch.setattr(report, "grid_files", lambda path: grids[path])
    trials = [TrialResult(Path(n), n, {"a": n}, 0, 0, 1.0, None, 1.0, {}) for n in ("fast", "slow")]
    settings = [Setting(t.label, t.params, [t]) for t in trials]
    html = report._grids_side_by_side(StudyResults(Path("."), {"name": "s", "metric": "fid"}, trials, settings))
    assert "<th>epoch 1</th><th>epoch 2</th><th>last grid</th>" in html
    fast_row, slow_row = html.split("<tr><td>fast</td>")[1], html.split("<tr><td>slow</td>")[1]
    assert "epoch 6" in fast_row.split("</tr>")[0] and "epoch 2" in slow_row.split("</tr>")[0]
    assert report._data_uri(tmp_path / "fast-6.png") in fast_row.split("</tr>")[0]


def test_published_figures_stand_beside_the_settings_own_means():
    trials = [TrialResult(Path(f"t{r}"), "a=x", {"a": "x"}, r, r, v, None, 1.0, {},
                          metrics={"modes_covered": v, "modes_kl": kl}) for r, (v, kl) in enumerate([(990, 0.1), (996, 0.3)])]
    study = {"name": "s", "metric": "modes_covered", "repeats": 2, "eval_n": 26000, "preset": "dcgan", "search": "grid",
             "axes": [{"name": "a", "keys": ["a"], "values": ["x", "y"]}],
             "published": [{"setting": "a=x", "source": "Paper <b>, Table 2", "setup": "50 epochs",
                            "modes_covered": 1000.0, "modes_kl": 0.06},
                           {"setting": "a=y", "source": "Other, Table 1", "modes_covered": 99}]}
    res = StudyResults(Path("."), study, trials, [Setting("a=x", {"a": "x"}, trials)])
    page = build_study_report(res)
    assert "Published figures beside ours" in page and "Paper &lt;b&gt;, Table 2" in page
    assert "modes_covered 1000" in page and "modes_covered 993 ± 4.2" in page and "modes_kl 0.2 ± 0.14" in page
    assert "(not run yet)" in page  # a=y has no finished trial
    assert "title='click to sort'>modes_kl</th>" in page  # a column beside the metric, being measured
    assert ">classes_covered</th>" not in page  # ... unlike the extras no trial measured
    md = build_summary(res)
    assert "| a=x | Paper &lt;b&gt;, Table 2 | modes_covered 1000; modes_kl 0.06 | modes_covered 993 ± 4.2; " \
           "modes_kl 0.2 ± 0.14 | 2 |" in md
    assert "| a=y | Other, Table 1 | modes_covered 99 | modes_covered - | 0 |" in md


def test_a_study_resumed_after_a_pause_says_how_long_its_trials_ran(tmp_path):
    from gankit.studies.results import busy_seconds, wall_text
    from gankit.runs.layout import StudyDir

    def trial(name: str, start: float, seconds: float | None) -> TrialResult:  # None: still running
        end = start + seconds if seconds is not None else None
        return TrialResult(tmp_path / name, "a", {}, 0, 0, 1.0, None, seconds, {}, finished=end)

    # two workers: 0-100 s and 50-120 s overlap; a pause of an hour; then 3,720-3,800 s
    trials = [trial("t0", 0, 100), trial("t1", 50, 70), trial("t2", 3720, 80), trial("t3", 3700, None)]
    res = StudyResults(tmp_path, {"metric": "fid"}, trials, [])
    StudyDir(tmp_path).executions.write_text("".join(json.dumps({"trial": i, "time": t}) + "\n"
                                                     for i, t in enumerate((0, 50, 3700, 3720))))
    assert busy_seconds(res) == 120 + 80  # the union of the spans, the pause left out
    assert wall_text(res) == "wall time 63.3 min (3.3 min of it with trials running)"
    # without a pause the two agree and only one is given
    res.trials = trials[:2]
    assert busy_seconds(res) == 120 and wall_text(res) == "wall time 2.0 min"
