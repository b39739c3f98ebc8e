"""The package's source says why, never when: no study rounds and no dates in src/gankit (code,
presets, study files, shipped cards); the history lives in docs/study-history.md and docs/results.md."""

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "gankit"
NUMBERS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
           "sixteen|seventeen|eighteen")
HISTORY = re.compile(rf"round ({NUMBERS})|20[0-9]{{2}}-[0-9]{{2}}-[0-9]{{2}}", re.IGNORECASE)


def test_no_round_or_date_in_the_package_source():
    found = [f"{p.relative_to(SRC)}:{i}: {line.strip()[:80]}"
             for p in sorted(SRC.rglob("*")) if p.is_file() and p.suffix in (".py", ".toml", ".json", ".md")
             for i, line in enumerate(p.read_text().splitlines(), 1) if HISTORY.search(line)]
    assert found == [], "\n".join(found)
