"""A validated Config from a preset, a config file and --set overrides.

    build_config(preset, config_file, sets) -> Config   (validated: see validate.py)

Presets are TOML files shipped in gankit/presets/.  This module sits above config.py (the
dataclasses) and validate.py (checks against the registries), so config.py itself
imports nothing from the rest of gankit and there is no import cycle.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from gankit.config import Config, apply_dict, parse_set, set_value
from gankit.errors import GankitError, did_you_mean
from gankit.launch.catalog import preset_names, preset_text
from gankit.launch.validate import check as validate

__all__ = ["build_config", "load_preset", "preset_dict", "preset_names", "read_toml", "validate"]


def read_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise GankitError(f"{where}: not valid TOML ({e})") from None
    except RecursionError:
        raise GankitError(f"{where}: not a usable TOML file (arrays or tables nested too deeply)") from None


def read_json(text: str, where: str) -> dict[str, Any]:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise GankitError(f"{where}: not valid JSON ({e})") from None
    except RecursionError:
        raise GankitError(f"{where}: not a usable JSON file (arrays or objects nested too deeply)") from None
    if not isinstance(d, dict):
        raise GankitError(f"{where}: expected a JSON object of sections and keys, found a {type(d).__name__}")
    return d


def preset_dict(name: str) -> dict[str, Any]:
    if name not in preset_names():
        raise GankitError(f"unknown preset {name!r}{did_you_mean(name, preset_names())}; "
                          f"choose one of: {', '.join(preset_names())}")
    return read_toml(preset_text(name), f"preset {name}")


def load_preset(name: str) -> Config:
    cfg = apply_dict(Config(), preset_dict(name), f"preset {name}")
    cfg.preset = name
    return cfg


def build_config(
    preset: str | None = None,
    config_file: str | None = None,
    sets: list[str] | None = None,
) -> Config:
    """Preset (default 'dcgan'), then a config file, then --set overrides; validated."""
    cfg = load_preset(preset or "dcgan")
    if config_file:
        p = Path(config_file)
        if not p.is_file():
            raise GankitError(f"--config {config_file}: no such file")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise GankitError(f"--config {config_file}: not UTF-8 text (byte {e.start}: {e.reason}); "
                              "save it as UTF-8") from None
        except OSError as e:
            raise GankitError(f"--config {config_file}: cannot read ({e.strerror or e})") from None
        d = read_json(text, str(p)) if p.suffix == ".json" else read_toml(text, str(p))
        if "preset" in d and not preset and d["preset"] != cfg.preset:
            cfg = load_preset(str(d["preset"]))
        apply_dict(cfg, d, str(p))
    for item in sets or []:
        set_value(cfg, *parse_set(item))
    validate(cfg)
    return cfg


def data_config(dataset: str | None, sets: list[str], where: str) -> Config:
    """A validated Config whose data section is DATASET (a name or a folder/zip path) with data.*
    overrides (`gankit data show`, `gankit evaluator train`); `where` names the verb in errors."""
    from gankit.data import DATASETS  # here, not at the top: `gankit presets` stays free of torch

    cfg = Config()
    if dataset in DATASETS:
        cfg.data.dataset = dataset
    elif dataset is not None and Path(dataset).exists():
        cfg.data.dataset, cfg.data.path = "folder", dataset
    elif dataset is not None:
        raise GankitError(f"{where} {dataset}: not a dataset ({', '.join(DATASETS)}) nor an existing folder/zip")
    for item in sets:
        k, _, v = item.partition("=")
        key = k.strip() if k.strip().startswith("data.") else f"data.{k.strip()}"
        set_value(cfg, key, v.strip())
    return validate(cfg)
