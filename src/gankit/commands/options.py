"""`gankit options`: every config key with its type, default and one-line meaning.

The meanings are the trailing comments of the fields in config.py, read with `inspect`,
so the dataclasses stay the single place where an option is defined and explained.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re

from gankit.config import Config, field_types
from gankit.launch.presets import load_preset


def field_help() -> dict[str, str]:
    """{'train.batch_size': 'comment text', ...} from the config dataclasses' source."""
    out: dict[str, str] = {}
    for section, value in vars(Config()).items():
        if not dataclasses.is_dataclass(value):
            continue
        for line in inspect.getsource(type(value)).splitlines():
            m = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.+)$", line)
            if m:
                out[f"{section}.{m.group(1)}"] = m.group(2).strip()
    return out


def format_options(preset: str | None = None) -> str:
    cfg = load_preset(preset) if preset else Config()
    values = cfg.to_dict()
    helps = field_help()
    lines = [f"Config keys ({'preset ' + preset if preset else 'built-in defaults'}); set with --set KEY=VALUE",
             "or in a TOML file ([section] key = value).  Lists are comma-separated on the command line.", ""]
    rows = []
    for key, tp in field_types().items():
        if "." not in key:
            continue
        section, name = key.split(".", 1)
        tname = getattr(tp, "__name__", str(tp)).replace("typing.", "")
        rows.append((key, tname, json.dumps(values[section][name]), helps.get(key, "")))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = min(max(len(r[2]) for r in rows), 16)
    section = None
    for key, tname, default, meaning in rows:
        if key.split(".")[0] != section:
            section = key.split(".")[0]
            lines.append(f"[{section}]")
        lines.append(f"  {key:<{w0}}  {tname:<{w1}}  {default:<{w2}}  {meaning}")
    from gankit.data import DATASETS
    from gankit.data.diffaugment import AUGMENTS
    from gankit.models import MODELS
    from gankit.training.losses import LOSSES
    from gankit.training.optim import OPTIMIZERS

    lines += ["", "Choices:",
              f"  data.dataset:      {', '.join(DATASETS)}",
              f"  model.name:        {', '.join(MODELS)}",
              f"  optim.name:        {', '.join(OPTIMIZERS)}",
              f"  train.diffaugment: {', '.join(AUGMENTS)}",
              "  loss.name:"]
    lines += [f"    {name:<8} {loss.description}" for name, loss in LOSSES.items()]
    return "\n".join(lines)
