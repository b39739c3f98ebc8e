"""What gankit ships for users to start from, by name: presets (gankit/presets/*.toml) and
built-in studies (gankit/studies/builtin/*.toml).

Standard library only: the CLI lists both in its --help without loading torch.
"""

from __future__ import annotations

from importlib import resources


def _names(*folder: str) -> list[str]:
    files = resources.files("gankit").joinpath(*folder)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def preset_names() -> list[str]:
    return _names("presets")


def preset_text(name: str) -> str:
    return resources.files("gankit").joinpath("presets", f"{name}.toml").read_text()


def builtin_names() -> list[str]:
    return _names("studies", "builtin")


def builtin_text(name: str) -> str:
    return resources.files("gankit").joinpath("studies", "builtin", f"{name}.toml").read_text()
