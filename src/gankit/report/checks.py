"""Report sections for the checks beyond FID: CAS, privacy, projection, and the latent walk.

Pure functions of metrics.json's "cas" and "privacy" entries (`gankit evaluate --cas /
--privacy`, commands/checks.py) and of files in the run directory (samples/walk.png from `gankit
generate --interpolate`, samples/privacy_pairs.png); each returns "" when its input is
missing, so html.py can call them unconditionally.  No torch here: the report must build from
a run directory alone, quickly.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

from gankit.runs.layout import RunDir

Img = Callable[..., str]  # html._img(path, alt, width=None)


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "–"


def cas_section(cas: dict | None) -> str:
    if not isinstance(cas, dict):
        return ""
    acc = cas.get("accuracy") if isinstance(cas.get("accuracy"), dict) else {}
    n = cas.get("n") if isinstance(cas.get("n"), int) else 0
    rows = "".join(f"<tr><td>{label} ({k * n} images)</td><td>{_num(acc.get(key))}</td></tr>"
                   for key, label, k in (("synthetic", "synthetic", 1), ("real", "real", 1),
                                         ("real+synthetic", "real + synthetic", 2)))
    gain = cas.get("gain")
    gain_text = f"{gain:+.4f}" if isinstance(gain, (int, float)) and not isinstance(gain, bool) else "–"
    return ("<h2>Classification Accuracy Score</h2>"
            f"<p>A classifier ({html.escape(str(cas.get('classifier', '')))}, {html.escape(str(cas.get('epochs')))} "
            f"epochs) trained on each set, tested on {html.escape(str(cas.get('test', 'the real test split')))} "
            f"({html.escape(str(cas.get('test_n')))} images); step {html.escape(str(cas.get('step')))}.</p>"
            f"<table><tr><th>trained on</th><th>test accuracy</th></tr>{rows}</table>"
            f"<p>CAS / real accuracy {_num(cas.get('ratio'))} · augmentation gain {gain_text}</p>")


def privacy_section(privacy: dict | None, run_path: Path, img: Img) -> str:
    if not isinstance(privacy, dict):
        return ""
    rows = ""
    for space in ("pixel", "feature"):
        s = privacy.get(space)
        if not isinstance(s, dict):
            continue
        g = s.get("generated") if isinstance(s.get("generated"), dict) else {}
        t = s.get("test") if isinstance(s.get("test"), dict) else {}
        rows += (f"<tr><td>{space}</td><td>{_num(g.get('p01'))}</td><td>{_num(g.get('p50'))}</td>"
                 f"<td>{_num(t.get('p01'))}</td><td>{_num(t.get('p50'))}</td><td>{_num(s.get('threshold'))}</td>"
                 f"<td>{_num(s.get('memorisation_rate'))}</td><td>{html.escape(str(s.get('exact_copies')))}</td></tr>")
    out = ("<h2>Privacy: nearest training images</h2>"
           f"<p>{html.escape(str(privacy.get('n')))} generated and {html.escape(str(privacy.get('test_size')))} "
           f"unseen test images, each against its nearest of the {html.escape(str(privacy.get('train_size')))} "
           f"training images; step {html.escape(str(privacy.get('step')))}. "
           f"{html.escape(str(privacy.get('threshold_definition', '')))}.</p>"
           "<table><tr><th>space</th><th>generated p01</th><th>generated median</th><th>test p01</th>"
           "<th>test median</th><th>threshold</th><th>memorisation rate</th><th>exact copies</th></tr>"
           f"{rows}</table>")
    # the fixed name, never a path read from metrics.json: a forged file must not inline other files
    pairs = run_path / "samples" / "privacy_pairs.png"
    if pairs.is_file():
        listed = privacy.get("pairs_distances")
        dists = ", ".join(f"{d:.3g}" for d in (listed if isinstance(listed, list) else [])
                          if isinstance(d, (int, float)) and not isinstance(d, bool))
        space = html.escape(str(privacy.get("pairs_space")))
        out += (f"<h3>Closest pairs (generated | nearest training image, {space} space)</h3>"
                f"{img(pairs, 'closest generated-training pairs', 560)}"
                f"<p>distances: {html.escape(dists)}</p>")
    return out


def projection_section(projection: dict | None) -> str:
    if not isinstance(projection, dict):
        return ""
    rows = ""
    for key in ("pixel_mse", "feature_dist"):
        s = projection.get(key)
        if isinstance(s, dict):
            rows += (f"<tr><td>{key}</td><td>{_num(s.get('train'))}</td><td>{_num(s.get('heldout'))}</td>"
                     f"<td>{_num(s.get('gap'))} ± {_num(s.get('gap_se'))}</td>"
                     f"<td>{_num(s.get('floor_gap'))} ± {_num(s.get('floor_gap_se'))}</td></tr>")
    n = html.escape(str(projection.get("n")))
    return ("<h2>Memorisation by projection</h2>"
            f"<p>{n} training and {n} held-out images projected into G ({html.escape(str(projection.get('steps')))} "
            f"steps each); step {html.escape(str(projection.get('step')))}. A G that reconstructs its training "
            "images better than unseen ones has memorised them: a gap well above the floor (the same gap "
            "between two halves of the held-out images).</p>"
            "<table><tr><th>distance</th><th>train</th><th>held-out</th><th>gap</th><th>floor gap</th></tr>"
            f"{rows}</table>")


def walk_section(run_path: Path, img: Img) -> str:
    strip = RunDir(run_path).walk_strip
    if not strip.is_file():
        return ""
    return ("<h2>Latent walk</h2><p>Spherical interpolation between fixed noise vectors (one row per class "
            "for a conditional run, the same path in every row); written by "
            "<code>gankit generate RUN --interpolate K --gif walk.gif</code>.</p>"
            + img(strip, "latent walk"))
