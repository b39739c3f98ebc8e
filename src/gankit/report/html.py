"""report.html: one self-contained page (images inlined) built from a run directory alone."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from gankit.config import Config
from gankit.metrics.table import knn_note
from gankit.report.checks import cas_section, privacy_section, projection_section, walk_section
from gankit.report.plots import write_plots
from gankit.runs.layout import CHECK_KEYS, RunDir
from gankit.util.atomic import atomic_write
from gankit.util.metric_names import BETTER_WORDS, DOCS_PAGE, describe


def _e(value) -> str:
    """Any value from the run directory as HTML text: logs copied from elsewhere may hold markup."""
    return html.escape(str(value))


def _number(x: object) -> bool:
    """A number from a log or metrics.json (a bool is an int to Python, not a measurement)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _img(path: Path, alt: str, width: int | None = None) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    w = f' width="{width}"' if width else ""
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"{w}>'


def _config_rows(cfg: dict) -> str:
    default = Config().to_dict()
    rows = []
    for section, values in cfg.items():
        if not isinstance(values, dict):
            rows.append((section, values, default.get(section)))
            continue
        for k, v in values.items():
            rows.append((f"{section}.{k}", v, default.get(section, {}).get(k)))
    return "".join(
        f'<tr class="{"changed" if v != d else ""}"><td>{html.escape(k)}</td><td>{html.escape(json.dumps(v))}</td></tr>'
        for k, v, d in rows
    )


# numbers in metrics.json that say how a measurement was made, not what it measured
_COUNTS = {"n", "knn_n", "reference_size", "reference_n", "seconds", "eval_seconds", "step", "classes_present"}


def _metrics_table(metrics: dict) -> str:
    """One row per metric: its plain name (a link to its definition), the model's value beside its
    real-vs-real floor (`floor_<metric>`), which way is better, and what it means."""
    def cell(v) -> str:  # counts (n, step, sizes) exactly, measurements to 4 significant digits
        return "" if not _number(v) else str(v) if isinstance(v, int) else f"{v:.4g}"

    docs = _docs_url()
    rows = []
    for k, v in metrics.items():
        if not _number(v) or k.startswith("floor_") or k in _COUNTS:  # counts belong to the provenance line
            continue
        m, anchor = describe(k)
        name = html.escape(m.label if m else k)
        if m and docs:
            name = f"<a href='{html.escape(docs)}#{anchor}'>{name}</a>"
        better, meaning = (BETTER_WORDS[m.better], m.meaning) if m else ("", "")
        rows.append(f"<tr><td>{name}</td><td>{cell(v)}</td><td>{cell(metrics.get('floor_' + k))}</td>"
                    f"<td>{html.escape(better)}</td><td class='meaning'>{html.escape(meaning)}</td></tr>")
    return ("<table><tr><th>metric</th><th>model</th><th>real-vs-real floor</th><th>better</th><th>what it measures"
            f"</th></tr>{''.join(rows)}</table>")


def _docs_url() -> str | None:
    """docs/evaluation.md of the gankit checkout this runs from, as a file URL (None when
    installed without the repository: the table's own words then have to do)."""
    page = Path(__file__).resolve().parents[3] / DOCS_PAGE
    return page.as_uri() if page.is_file() else None


def _provenance(metrics: dict) -> str:
    """What the metrics were measured with: n, the reference split and its size, the evaluator's
    sha256, and the small-n warning (metrics.evaluate.PROVENANCE_KEYS; not imported: no torch here)."""
    def esc(v) -> str:
        return html.escape(str(v))

    parts = []
    if "step" in metrics:
        seconds = metrics.get("eval_seconds", metrics.get("seconds"))  # older metrics.json: the measurement alone
        took = f" in {esc(seconds)} s" if seconds is not None else ""
        parts.append(f"evaluated at step {esc(metrics['step'])}{took}")
    if "reference_split" in metrics:
        parts.append(f"n={esc(metrics.get('n'))} generated samples · reference: {esc(metrics['reference_split'])} "
                     f"split ({esc(metrics.get('reference', ''))}), {esc(metrics.get('reference_size'))} images "
                     f"({esc(metrics.get('reference_n'))} in the FID/KID subset)")
        if knn_note(metrics):
            parts.append(esc(knn_note(metrics)))
    for prefix, name in (("", "evaluator"), ("inception_", "Inception-v3")):
        if prefix + "evaluator_sha256" in metrics:
            parts.append(f"{name} {esc(metrics.get(prefix + 'evaluator', ''))} sha256 "
                         f"<code>{esc(metrics[prefix + 'evaluator_sha256'])}</code>")
    out = f"<p>{' · '.join(parts)}</p>" if parts else ""
    if metrics.get("small_n_warning"):
        out += (f"<p class='warn'>Warning: FID/KID from n={esc(metrics.get('n'))} samples (fewer than 2048) are "
                "biased and not comparable with figures at a larger n.</p>")
    return out


_ACTIONS = ("init_from", "d_init", "diverged", "rollback", "early_stop", "interrupted", "resume", "budget_spent")


def _describe(e: dict) -> str:
    kind, step = e["event"], e.get("step")
    if kind == "rollback":
        changes = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in e.get("changes", {}).items())
        return f"step {step}: rollback #{e.get('rollbacks')} ({e.get('reason')}) to step {e.get('to_step')} " \
               f"from {e.get('checkpoint')}, with {changes}"
    if kind == "diverged":
        return f"step {step}: {e.get('network')}'s {e.get('quantity')} not finite (loss {e.get('loss')})"
    if kind == "init_from":
        return f"step 0: G and D from {e.get('source')} (its step {e.get('source_step')}, " \
               f"{e.get('source_dataset')}), {e.get('frozen_d_blocks')} D blocks frozen"
    if kind == "d_init":
        return f"step 0: D's body from the {e.get('evaluator')} evaluator (sha256 {str(e.get('evaluator_sha256'))[:12]}), " \
               f"{e.get('frozen_d_blocks')} D blocks frozen"
    if kind == "early_stop":
        return f"step {step}: early stop, best FID {e.get('best_fid')} not beaten in " \
               f"{e.get('evaluations_without_improvement')} evaluations"
    return f"step {step}: {kind.replace('_', ' ')}"


def _training_seconds(last: dict, events: list[dict]) -> object:
    """Training seconds over every session: the last row's, or the spent budget's where it came later."""
    row = last.get("time", 0)
    spent = [e["seconds"] for e in events if e.get("event") == "budget_spent" and _number(e.get("seconds"))]
    if spent and (not _number(row) or max(spent) > row):
        return max(spent)
    return row  # shown as it stands, escaped, even where a run dir from elsewhere holds no number


def build_report(run: RunDir) -> str:
    cfg = run.read_config()
    stats = run.stats()
    events = run.events()
    last = stats[-1] if stats else {}
    # the run's step: its last row's, or later where an event (the last checkpoint's samples, a
    # spent budget) came after the last row
    stepped = [r for r in [last, *events] if isinstance(r.get("step"), int) and not isinstance(r.get("step"), bool)]
    step = max([r["step"] for r in stepped] or [0])
    # the epoch of that same step (the final grid's, as its title has it), else the last row's
    epoch = next((r["epoch"] for r in stepped if r["step"] == step and "epoch" in r), last.get("epoch", 0))
    seconds = _training_seconds(last, events)
    grids = [e for e in events if e.get("event") == "samples" and "fixed" in e]
    warnings = [e for e in events if e.get("event") == "warning"]
    actions = [e for e in events if e.get("event") in _ACTIONS]
    title = f"gankit run {run.path.name}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>preset <b>{html.escape(str(cfg.get('preset')))}</b> · dataset <b>{html.escape(cfg['data']['dataset'])}</b>"
             f" · {_e(step)} steps · epoch {_e(epoch)} · {_e(seconds)} s of training"
             f" · {_e(last.get('img_per_s', 0))} img/s (last interval)</p>"]
    if "resolution" in last:  # a growing model (progan): where its schedule stood at the last row
        parts.append(f"<p>resolution <b>{_e(last['resolution'])} px</b> (fade-in alpha {_e(last.get('alpha'))})</p>")
    if "ada_p" in last:  # train.ada: where p stood, and what moves it
        parts.append(f"<p>adaptive augmentation: p <b>{_e(last['ada_p'])}</b> at the last row (it rises while "
                     f"E[sign D(real)] is above train.ada_target={_e(cfg['train'].get('ada_target'))}; "
                     "plot <i>ada</i> below)</p>")
    if grids:
        final = grids[-1]
        parts.append(f"<h2>Samples after epoch {_e(final['epoch'])} (fixed noise)</h2>")
        parts.append(_img(run.path / final["fixed"], "final samples", 420))
        if "classes" in final:
            parts.append("<h3>One row per class</h3>" + _img(run.path / final["classes"], "per-class samples", 420))
    if run.metrics_file.is_file():
        metrics = run.read_metrics()
        if any(k not in CHECK_KEYS for k in metrics):  # not when it holds only --cas/--privacy results
            parts.append("<h2>Evaluation</h2>" + _provenance(metrics) + _metrics_table(metrics))
        parts.append(cas_section(metrics.get("cas")) + privacy_section(metrics.get("privacy"), run.path, _img)
                     + projection_section(metrics.get("projection")))
    parts.append(walk_section(run.path, _img))
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(
            f"<li>{html.escape(w.get('message', ''))}</li>" for w in warnings) + "</ul>")  # names its step
    if actions:  # what the run did about its health, and kills and resumes
        parts.append("<h2>Events</h2><ul>" + "".join(f"<li>{html.escape(_describe(e))}</li>" for e in actions) + "</ul>")
    parts.append("<h2>Curves</h2>")
    for png in sorted(run.plots.glob("*.png")):
        parts.append(_img(png, png.stem))
    if grids:
        parts.append("<h2>Samples over time</h2><div class='grids'>")
        for g in grids:
            parts.append(f"<figure>{_img(run.path / g['fixed'], 'epoch %s' % g['epoch'], 200)}"
                         f"<figcaption>epoch {_e(g['epoch'])} · step {_e(g['step'])}</figcaption></figure>")
        parts.append("</div>")
    parts.append("<h2>Configuration</h2><p>Highlighted rows differ from the built-in defaults.</p>"
                 f"<table>{_config_rows(cfg)}</table>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}"
             "tr.changed{background:#fff3c4}.grids{display:flex;flex-wrap:wrap;gap:8px}"
             "figure{margin:0}figcaption{font-size:12px;text-align:center}.warn{color:#a40}"
             "td.meaning{color:#555}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(run: RunDir, refresh_plots: bool = True) -> Path:
    if refresh_plots:
        write_plots(run)
    out = run.path / "report.html"
    atomic_write(out, build_report(run))
    return out
