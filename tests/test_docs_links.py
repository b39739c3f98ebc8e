"""The README and docs/*.md: every relative link and image resolves, and the README stays short.

A link `[text](target)` or image `![alt](target)` whose target is relative (not http(s):, not
mailto:) must name a file or folder that exists, relative to the markdown file's folder; a
`#anchor` (alone, or after a markdown file) must be the GitHub slug of a heading in that file.
Links inside fenced code blocks and inline code are not links and are skipped.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+).*?\1")
# [text](target) and ![alt](target); the text may hold one level of [brackets]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+[\"'(][^)]*)?\)")
# reference definitions: [label]: target
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")  # http:, https:, mailto:, ...


def _lines_outside_code(path: Path, keep_inline_code: bool = False):
    """(line number, line) for every line outside fenced code blocks; inline code removed
    unless keep_inline_code (a heading's slug keeps the text of its `code`)."""
    fenced = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = FENCE.match(line)
        if fence:
            if fenced is None:
                fenced = fence.group(1)
            elif fence.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            yield number, line if keep_inline_code else INLINE_CODE.sub("", line)


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation other than '-' and '_' dropped,
    each space a '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text)  # html tags
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's slug in a markdown file, duplicates numbered as GitHub does (-1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _lines_outside_code(path, keep_inline_code=True):
        m = HEADING.match(line)
        if not m:
            continue
        slug = github_slug(m.group(2))
        if slug in seen:
            seen[slug] += 1
            found.add(f"{slug}-{seen[slug]}")
        else:
            seen[slug] = 0
            found.add(slug)
    return found


def relative_links(path: Path):
    """(line number, target) of every relative link and image in a markdown file."""
    for number, line in _lines_outside_code(path):
        targets = [m.group(1) for m in LINK.finditer(line)]
        ref = REF_DEF.match(line)
        if ref:
            targets.append(ref.group(1))
        for target in targets:
            target = target.strip("<>")
            if target and not EXTERNAL.match(target):
                yield number, target


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        where = f"{path.relative_to(ROOT)}:{number}: ({target})"
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{where}: {linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked} does not exist")
            continue
        if anchor:
            if linked.is_dir() or linked.suffix.lower() != ".md":
                problems.append(f"{where}: an anchor on a file that is not markdown")
            elif anchor not in anchors(linked):
                problems.append(f"{where}: no heading with the slug '{anchor}' in {linked.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    problems = broken_links(path)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_markdown_files_are_found():
    names = {str(p.relative_to(ROOT)) for p in MARKDOWN}
    assert {"README.md", "docs/README.md", "docs/results.md"} <= names


def test_readme_is_a_short_page_without_dated_measurements():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; at most 250 (measurements go to docs/results.md)"
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", text)
    assert not dates, f"README.md holds dates {dates}: dated measurements go to docs/results.md"
    speeds = [n for n, line in enumerate(lines, start=1) if "img/s" in line]
    assert not speeds, f"README.md mentions img/s on lines {speeds}: speeds go to docs/results.md"


def test_slugs_follow_github():
    assert github_slug("The evaluation a run ends with") == "the-evaluation-a-run-ends-with"
    assert github_slug("Cats and dogs (catdog-quality)") == "cats-and-dogs-catdog-quality"
    assert github_slug("`make gpu-check`: every CUDA path in one command") == "make-gpu-check-every-cuda-path-in-one-command"
    assert github_slug("Transfer, CAS and stylegan-lite: the full measurements") == "transfer-cas-and-stylegan-lite-the-full-measurements"
    assert github_slug("Folders and zip files (`data.dataset=folder`)") == "folders-and-zip-files-datadatasetfolder"
