"""The study page in a real headless browser (Debian's chromium driven by Playwright).

Playwright never downloads a browser here: it drives the system chromium, and the tests
skip when there is none.  A full-page screenshot is kept as a test artefact in
test-artifacts/study_report.png (ignored by git).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gankit.studies import write_study_report

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
HOSTILE = "<script>alert(1)</script>"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


# decided before the (slow) finished_study fixture trains anything
pytestmark = pytest.mark.skipif(_chromium() is None, reason="no system chromium (/usr/bin/chromium or "
                                "chromium-browser on PATH): the report's browser test needs one")
sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright not installed")


@pytest.fixture(scope="module")
def report_page(finished_study):
    """The study's report.html opened in headless chromium, with everything it emitted."""
    exe = _chromium()
    report = write_study_report(finished_study)
    seen = {"console": [], "pageerror": [], "dialog": []}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: seen["pageerror"].append(str(e)))

            def on_dialog(d):
                seen["dialog"].append(f"{d.type}: {d.message}")
                d.dismiss()

            page.on("dialog", on_dialog)
            page.goto(report.as_uri(), wait_until="load")
            page.wait_for_load_state("networkidle")
            yield page, seen
        finally:
            browser.close()


def _column(page, index: int) -> list[str]:
    return page.eval_on_selector_all(
        "#results tbody tr", f"rows => rows.map(r => r.cells[{index}].dataset.v)")


def _header_index(page, starts: str) -> int:
    heads = page.eval_on_selector_all("#results thead th", "ths => ths.map(t => t.innerText.trim())")
    idx = [i for i, h in enumerate(heads) if h.startswith(starts)]
    assert idx, f"no column header starting with {starts!r} in {heads}"
    return idx[0]


def test_report_renders_safely(report_page):
    page, seen = report_page
    assert "gankit study" in page.title()
    assert page.locator("h1").count() == 1
    assert "gankit study" in page.locator("h1").inner_text()

    # every image (data: URIs) decoded
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert widths, "the report has no images"
    assert all(w > 0 for w in widths), f"images that did not load: {widths}"

    # the hostile study strings are text, not markup: nothing ran, and they are visible literally
    body = page.inner_text("body")
    assert HOSTILE in body
    assert "<img src=x onerror=alert(2)>" in body
    assert "hostile<b>" in body
    assert page.locator("script").count() == 1  # only the page's own sortTable script
    assert seen["dialog"] == []
    assert seen["pageerror"] == []
    assert [m for m in seen["console"] if m.startswith("error")] == []


def test_report_table_sorts(report_page):
    page, seen = report_page
    fid = _header_index(page, "fid")
    rows = page.locator("#results tbody tr").count()
    assert rows >= 2
    header = page.locator("#results thead th").nth(fid)

    header.click()
    values = _column(page, fid)
    assert "" not in values, f"a setting without a fid: {values}"
    asc = [float(v) for v in values]
    assert asc == sorted(asc)
    header.click()
    desc = [float(v) for v in _column(page, fid)]
    assert desc == sorted(desc, reverse=True)
    assert sorted(asc) == sorted(desc)
    if len(set(asc)) > 1:  # the click really moved rows
        assert asc != desc

    setting = _header_index(page, "setting")
    head = page.locator("#results thead th").nth(setting)
    head.click()
    labels = _column(page, setting)
    assert labels == sorted(labels, key=str.casefold)
    assert any(HOSTILE in lab for lab in labels)
    head.click()
    assert _column(page, setting) == sorted(labels, key=str.casefold, reverse=True)
    assert seen["pageerror"] == [] and seen["dialog"] == []


def test_report_screenshot(report_page):
    page, _ = report_page
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "study_report.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file() and shot.stat().st_size > 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
