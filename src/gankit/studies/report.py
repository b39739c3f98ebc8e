"""The study page (STUDY/report.html) and its Markdown summary (STUDY/summary.md).

One self-contained HTML file (images inlined, a few lines of JavaScript to sort the
table; no server, no network), built from the study directory alone.  Every string that
comes from a study file, a trial or a config is escaped.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from statistics import mean, stdev

from gankit.studies.figures import grid_files, overlaid_curves, trial_gif
from gankit.studies.results import Setting, StudyResults, compare_axes, format_value, load_results, wall_text
from gankit.util.atomic import atomic_write

EXTRA = ("precision", "recall", "classes_covered", "modes_kl")  # shown beside the study's metric when measured


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def _data_uri(path: Path) -> str:
    kind = "gif" if path.suffix == ".gif" else "png"
    return f"data:image/{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _img(path: Path | None, alt: str, width: int | None = None) -> str:
    if path is None or not path.is_file():
        return "<span class='missing'>no image</span>"
    w = f' width="{width}"' if width else ""
    return f'<img src="{_data_uri(path)}" alt="{esc(alt)}"{w}>'


def _extra_mean(s: Setting, key: str) -> float | None:
    vals = [t.metrics[key] for t in s.trials if t.value is not None and isinstance(t.metrics.get(key), (int, float))]
    return mean(vals) if vals else None


def _num(v, fmt=".4g") -> str:
    return "" if v is None else format(v, fmt)


def _extras(res: StudyResults) -> list[str]:
    """The EXTRA metrics some trial measured (a study of Fashion-MNIST has no mode KL)."""
    return [k for k in EXTRA if k != res.metric and any(_extra_mean(s, k) is not None for s in res.settings)]


def _table(res: StudyResults) -> str:
    axes = [a["name"] for a in res.study["axes"]]
    best = next((s for s in res.settings if s.mean is not None), None)
    extras = _extras(res)
    head = (["#", "setting"] + axes + [f"{res.metric} (mean ± std)", "seeds", "per seed"]
            + extras + ["train s"])
    ths = "".join(f"<th onclick='sortTable({i})' title='click to sort'>{esc(h)}</th>" for i, h in enumerate(head))
    rows = []
    for rank, s in enumerate(res.settings, 1):
        cells = [(rank, str(rank)), (s.label, esc(s.label))]
        cells += [(s.params.get(a, ""), esc(s.params.get(a, ""))) for a in axes]
        cells.append((s.mean if s.mean is not None else "", esc(format_value(s))))
        cells.append((len(s.values), str(len(s.values))))
        cells.append(("", esc(", ".join(f"{v:.4g}" for v in s.values))))
        for k in extras:
            v = _extra_mean(s, k)
            cells.append((v if v is not None else "", _num(v)))
        secs = [t.seconds for t in s.trials if t.seconds]
        cells.append((mean(secs) if secs else "", _num(mean(secs) if secs else None, ".0f")))
        tds = "".join(f"<td data-v='{esc(v)}'>{text}</td>" for v, text in cells)
        rows.append(f"<tr class='{'best' if s is best else ''}'>{tds}</tr>")
    return f"<table id='results'><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _grids_side_by_side(res: StudyResults) -> str:
    """The first seed of every setting, at the epochs every trial has a grid for, and each trial's
    last grid beside them when the trials ended at different epochs (budgets at different speeds)."""
    firsts = [(s, min(s.trials, key=lambda t: t.repeat)) for s in res.settings if s.trials]
    per = {t.path: dict(grid_files(t.path)) for _, t in firsts}
    common = sorted(set.intersection(*[set(g) for g in per.values()])) if per else []
    lasts = {path: max(g) for path, g in per.items() if g}
    ragged = any(e not in common for e in lasts.values())
    keep = 4 if ragged else 5
    if len(common) > keep:  # a few columns across the run, always with the last
        common = [common[round(i * (len(common) - 1) / (keep - 1))] for i in range(keep)]
    cols = "".join(f"<th>epoch {e:g}</th>" for e in common) + ("<th>last grid</th>" if ragged else "")
    body = ""
    for s, t in firsts:
        cells = "".join(f"<td>{_img(per[t.path][e], f'{s.label} epoch {e:g}', 180)}</td>" for e in common)
        if ragged:
            last = lasts.get(t.path)
            cells += (f"<td>{_img(per[t.path][last] if last is not None else None, s.label, 180)}"
                      f"<br><small>epoch {esc(_num(last, '.3g'))}</small></td>")
        body += f"<tr><td>{esc(s.label)}</td>{cells}</tr>"
    return f"<table class='grids'><tr><th>setting (first seed)</th>{cols}</tr>{body}</table>"


def published_rows(res: StudyResults) -> list[tuple[dict, Setting | None, list[tuple[str, str, str]]]]:
    """The study's [[published]] rows, each with its setting here and, per metric the paper gives,
    (metric, the paper's value, ours as mean ± std over the finished seeds)."""
    by_label = {s.label: s for s in res.settings}
    out = []
    for row in res.study.get("published") or []:
        s = by_label.get(row.get("setting"))
        figures = []
        for k, v in row.items():
            if k in ("setting", "source", "setup"):
                continue
            vals = [t.metrics[k] for t in (s.trials if s else []) if t.value is not None
                    and isinstance(t.metrics.get(k), (int, float))]
            ours = "" if not vals else (f"{mean(vals):.4g} ± {stdev(vals):.2g}" if len(vals) > 1 else f"{vals[0]:.4g}")
            figures.append((k, f"{v:g}", ours))
        out.append((row, s, figures))
    return out


def _published(res: StudyResults) -> str:
    rows = published_rows(res)
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{esc(row['setting'])}</td><td>{esc(row['source'])}</td><td>{esc(row.get('setup', ''))}</td><td>"
        + "<br>".join(f"{esc(k)} {esc(v)}" for k, v, _ in figs) + "</td><td>"
        + "<br>".join(f"{esc(k)} {esc(o) or '(not run yet)'}" for k, _, o in figs)
        + f"</td><td>{len(s.values) if s else 0}</td></tr>" for row, s, figs in rows)
    return ("<h2>Published figures beside ours</h2><p>Each paper's own setup differs from this study's "
            "(see each row); the study file names the sources.</p><table class='published'><tr><th>setting</th>"
            f"<th>source</th><th>its setup</th><th>published</th><th>here (mean ± std)</th><th>seeds</th></tr>"
            f"{body}</table>")


def _flat(cfg: dict) -> dict:
    return {f"{sec}.{k}": v for sec, vals in cfg.items() if isinstance(vals, dict) for k, v in vals.items()}


def _config_diff(res: StudyResults) -> str:
    """The config keys that differ between trials (seed aside); cells unlike the first trial's marked."""
    flats = [(t, _flat(t.config)) for t in res.trials if t.config]
    if not flats:
        return ""
    keys = sorted({k for _, f in flats for k in f if k != "train.seed"
                   and len({json.dumps(g.get(k)) for _, g in flats}) > 1})
    if not keys:
        return "<p>All trials share one config apart from the seed.</p>"
    ref = flats[0][1]
    head = "".join(f"<th>{esc(k)}</th>" for k in keys)
    body = "".join(
        f"<tr><td>{esc(t.name)}</td>" + "".join(
            f"<td class='{'diff' if f.get(k) != ref.get(k) else ''}'>{esc(json.dumps(f.get(k)))}</td>" for k in keys)
        + "</tr>" for t, f in flats)
    return (f"<p>Keys that differ between trials; highlighted cells differ from trial {esc(flats[0][0].name)}.</p>"
            f"<table class='config'><tr><th>trial</th>{head}</tr>{body}</table>")


_SCRIPT = """
function sortTable(col) {
  const table = document.getElementById('results');
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const asc = table.dataset.col == col ? table.dataset.dir != 'asc' : true;
  const key = r => r.cells[col].dataset.v;
  rows.sort((a, b) => {
    const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
    if (x === '' && y !== '') return 1;
    if (y === '' && x !== '') return -1;
    const c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return asc ? c : -c;
  });
  rows.forEach(r => body.appendChild(r));
  table.dataset.col = col; table.dataset.dir = asc ? 'asc' : 'desc';
}
"""

_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
          "th{background:#f0f0f0;cursor:pointer}tr.best{background:#d9f2d9;font-weight:bold}td.diff{background:#fff3c4}"
          ".curves{display:flex;flex-wrap:wrap;gap:6px}.gifs{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}figcaption{font-size:11px;max-width:200px}"
          ".missing{color:#999;font-size:11px}.failed{color:#a00}")


def ranking_lines(res: StudyResults) -> list[str]:
    lines = []
    best = next((s for s in res.settings if s.mean is not None), None)
    if best is not None:
        lines.append(f"best setting: {best.label}, {res.metric} {format_value(best)} over {len(best.values)} seed(s)")
    lines += [c.sentence(res.metric) for c in compare_axes(res)]
    return lines


def _base(st: dict) -> str:
    if st.get("preset"):
        return f"preset <b>{esc(st['preset'])}</b>"
    return "base: the study's own <b>[base]</b> (study.json)"


def _dashboard(res: StudyResults) -> str:
    """The command that opens this study in Optuna's own dashboard (trials with their run
    directory, setting and seed as user attributes; the metric as the objective)."""
    storage = res.storage or ""
    url = f"sqlite:///{(res.path / 'study.db').resolve()}" if storage.startswith("sqlite") else storage
    if not url:
        return ""
    return ("<p>The same trials in Optuna's dashboard (<code>pip install optuna-dashboard</code>): "
            f"<code>optuna-dashboard {esc(url)}</code>"
            + (" (the password left out)" if "***" in url else "") + "</p>")


def build_study_report(res: StudyResults) -> str:
    st = res.study
    done = [t for t in res.trials if t.value is not None]
    failed = [t for t in res.trials if t.error]
    wall = wall_text(res)
    direction = "higher" if res.maximise else "lower"
    parts = [f"<h1>gankit study {esc(st['name'])}</h1>",
             f"<p>{esc(st.get('description', ''))}</p>",
             f"<p>{_base(st)} · {esc(st['search'])} search · {len(res.settings)} settings × "
             f"{esc(st['repeats'])} seed(s) · {len(done)} trials finished, {len(failed)} failed, "
             f"{len(res.trials) - len(done) - len(failed)} unfinished · ranked by <b>{esc(res.metric)}</b> "
             f"({direction} is better) at n={esc(st['eval_n'])}"
             + (f" · {wall}" if wall else "") + "</p>",
             "<h2>Ranking</h2><ul>" + "".join(f"<li>{esc(line)}</li>" for line in ranking_lines(res)) + "</ul>",
             _dashboard(res),
             "<h2>Results</h2><p>Click a column to sort. The best setting is highlighted.</p>", _table(res),
             _published(res)]
    if failed:
        parts.append("<h2>Failed trials</h2><ul>" + "".join(
            f"<li class='failed'>{esc(t.name)}: {esc(t.error)}</li>" for t in failed) + "</ul>")
    parts += ["<h2>Samples side by side (fixed noise)</h2>", _grids_side_by_side(res), "<h2>Curves</h2>"]
    parts += ["<div class='curves'>"] + [_img(p, p.stem, 560) for p in overlaid_curves(res)] + ["</div>"]
    parts.append("<h2>Every trial over time (animated)</h2><div class='gifs'>")
    for s in res.settings:
        for t in s.trials:
            gif = trial_gif(t.path, res.path / "gifs" / f"{t.name}.gif")
            value = f"{res.metric} {t.value:.4g}" if t.value is not None else (t.error or "unfinished")
            parts.append(f"<figure>{_img(gif, t.name, 200)}<figcaption>{esc(t.name)}<br>{esc(value)}</figcaption></figure>")
    parts.append("</div><h2>Configuration differences</h2>" + _config_diff(res))
    title = f"gankit study {st['name']}"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>{''.join(parts)}</body></html>")


def _md(x) -> str:
    """Text for a Markdown table cell: no raw HTML (rendered by most viewers), no cell breaks."""
    return html.escape(str(x), quote=False).replace("|", "\\|").replace("\n", " ")


def build_summary(res: StudyResults) -> str:
    st = res.study
    wall = wall_text(res)
    lines = [f"## Study {_md(st['name'])}", "", _md(st.get("description", "")), "",
             f"{st['search']} search, {len(res.settings)} settings x {st['repeats']} seed(s), {res.metric} at "
             f"n={st['eval_n']}" + (f", {wall}" if wall else "") + ".", ""]
    lines += [f"- {_md(line)}" for line in ranking_lines(res)]
    lines += ["", f"| # | setting | {res.metric} | seeds |", "|---|---|---|---|"]
    lines += [f"| {i} | {_md(s.label)} | {format_value(s)} | {len(s.values)} |" for i, s in enumerate(res.settings, 1)]
    published = published_rows(res)
    if published:
        lines += ["", "Published figures beside ours:", "", "| setting | source | published | here | seeds |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_md(row['setting'])} | {_md(row['source'])} | "
                  + "; ".join(f"{k} {v}" for k, v, _ in figs) + " | "
                  + "; ".join(f"{k} {o or '-'}" for k, _, o in figs) + f" | {len(s.values) if s else 0} |"
                  for row, s, figs in published]
    return "\n".join(lines) + "\n"


def write_study_report(study_dir: str | Path) -> Path:
    res = load_results(study_dir)
    out = res.path / "report.html"
    atomic_write(out, build_study_report(res))
    atomic_write(res.path / "summary.md", build_summary(res))
    return out
