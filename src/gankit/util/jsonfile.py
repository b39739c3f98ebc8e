"""The one reader of the JSON files gankit writes and later reads back (config.json, metrics.json,
trial.json, study.json, tracking.json, stats/events/evals.jsonl, executions.jsonl, exports'
config.json, evaluator cards, the decoded cache's sidecar).

Damage is never passed over in silence: a file that is not JSON, not UTF-8, not the expected
shape, or a log row that is not an object, is one `DamagedFile` line naming the file (and the
line, in a log) and what to do.  The one damage gankit goes on from is the torn *last* line of
an append-only log, which a process killed mid-write leaves: it is left out with one warning.
Readers never rewrite what they found damaged.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

from gankit.errors import GankitError, GankitWarning

# what a damaged log's message ends with, unless its owner says more
LOG_FIX = "remove or repair that line, or restore the file (gankit changed nothing)"
NUMBER = (int, float)


class DamagedFile(GankitError):
    """A file gankit wrote and reads back is damaged; the message names it and what to do."""


def read_object(path: Path, fix: str) -> dict[str, Any]:
    """A JSON file that must hold an object: the object, or DamagedFile ending in `fix`."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise DamagedFile(f"{path}: is not valid JSON ({_first_line(e)}); {fix}") from None
    if not isinstance(value, dict):
        raise DamagedFile(f"{path}: holds a JSON {_kind(value)}, not an object of settings; {fix}")
    return value


def read_jsonl(path: Path, fix: str = LOG_FIX, types: dict | None = None) -> list[dict[str, Any]]:
    """The rows of an append-only JSON-lines log ([] when absent).  A line that is not JSON, JSON
    but not an object, or a row whose `types` keys (check_fields) hold another kind of value, is
    DamagedFile naming its line number; only a torn last line (no newline after it: the writer
    was killed) is left out, with one warning."""
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    torn_last = not text.endswith("\n")  # the final element is an unterminated line (or "")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            if torn_last and number == len(lines):
                warnings.warn(GankitWarning(f"{path}: its last line is torn (the process writing it was stopped "
                                            "mid-line); it is left out"), stacklevel=2)
                continue
            raise DamagedFile(f"{path}:{number}: is not valid JSON ({_first_line(e)}); {fix}") from None
        if not isinstance(row, dict):
            raise DamagedFile(f"{path}:{number}: holds a JSON {_kind(row)}, not a row object; {fix}")
        if types:
            check_fields(row, types, f"{path}:{number}", fix)
        rows.append(row)
    return rows


def check_fields(obj: dict[str, Any], types: dict[str, type | tuple[type, ...]], path: Path | str,
                 fix: str) -> None:
    """Each key present in `obj` has one of its `types` (None allowed; bools are not numbers and
    numbers must be finite): the shape a reader relies on, or DamagedFile naming the key."""
    for key, tp in types.items():
        value = obj.get(key)
        if value is None:
            continue
        wants_number = tp is NUMBER or (isinstance(tp, tuple) and set(tp) & {int, float})
        bad = not isinstance(value, tp) or (wants_number and isinstance(value, bool))
        if not bad and isinstance(value, float) and not math.isfinite(value):
            bad = True
        if bad:
            raise DamagedFile(f"{path}: its {key} is a JSON {_kind(value)} ({short_json(value)}), not what gankit "
                              f"wrote there; {fix}")


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def short_json(value: Any) -> str:
    """A value as JSON for a message: at most 40 characters."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0][:80] if str(e) else type(e).__name__
