"""Fuzzing the config parsers: --set items, dicts from TOML/JSON, budgets and --config files give a
Config (validated) or a GankitError, nothing else."""

from __future__ import annotations

import datetime
import json
from importlib import resources

from fuzz_helpers import loads_or_refuses, mutated
from hypothesis import example, given
from hypothesis import strategies as st

from gankit.config import Config, apply_dict, budget_seconds, field_types, parse_set, set_value
from gankit.launch.presets import build_config

KEYS = sorted(field_types())
SECTIONS = sorted({k.split(".")[0] for k in KEYS if "." in k})
keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(SECTIONS), st.text(max_size=20),
                 st.sampled_from(KEYS).map(lambda k: k.upper()), st.sampled_from(KEYS).map(lambda k: k + "x"))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**100, 2**100), st.floats(),
                    st.text(max_size=20), st.sampled_from(["nan", "inf", "-inf", "1e999", "0x10", "1_000", "", " ",
                                                           "true", "1,2", "ns", "hinge", "cpu", "-1", "0"]),
                    st.datetimes(), st.dates(), st.times())
def containers(inner):
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3))


values = st.recursive(scalars, containers, max_leaves=8)
documents = st.dictionaries(keys, st.one_of(values, st.dictionaries(keys, values, max_size=4)), max_size=6)
TYPED = {int: st.one_of(st.integers(-3, 300), st.integers()), float: st.one_of(st.floats(-2, 2), st.floats()),
         bool: st.booleans(), str: st.one_of(st.text(max_size=10), st.sampled_from(["ns", "hinge", "batch", "none"])),
         list[str]: st.lists(st.text(max_size=5), max_size=3),
         bool | str: st.one_of(st.booleans(), st.sampled_from(["auto", "AUTO", "true", "maybe"]), st.text(max_size=6))}


@st.composite
def well_formed(draw) -> dict:
    """Known sections and keys, values of the right type but arbitrary: what reaches validation."""
    chosen = draw(st.lists(st.sampled_from([k for k in KEYS if "." in k]), max_size=6, unique=True))
    d: dict = {}
    for k in chosen:
        section, name = k.split(".")
        d.setdefault(section, {})[name] = draw(TYPED.get(field_types()[k], values))
    return d


@given(keys, values)
@example("train.epochs", "9" * 5000)  # past Python's int-from-string digit limit
@example("train.diffaugment", {"a": 1})
def test_fuzz_set_value(key, value):
    loads_or_refuses(set_value, Config(), key, value)


@given(st.one_of(documents, well_formed()))
def test_fuzz_apply_dict(d):
    out = loads_or_refuses(apply_dict, Config(), d, "fuzz.toml")
    assert out is None or isinstance(out, Config)


@given(st.text(max_size=40))
def test_fuzz_parse_set(item):
    out = loads_or_refuses(parse_set, item)
    if out is not None:
        k, v = out
        assert isinstance(k, str) and isinstance(v, str)
        loads_or_refuses(set_value, Config(), k, v)


@given(st.one_of(st.text(max_size=12), st.builds(lambda n, u: f"{n}{u}", st.one_of(st.floats(), st.integers()),
                                                   st.sampled_from(["", "s", "m", "h", "d", " s", "S", "ms"]))))
@example("inf")
@example("1e999h")
@example("nanm")
def test_fuzz_budget_seconds(text):
    out = loads_or_refuses(budget_seconds, text)
    assert out is None or (isinstance(out, float) and 0 <= out < float("inf"))


# --------------------------------------------------------------------------------------- --config files


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(v), repr(v))
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None and not isinstance(x, dict)) + "]"
    return json.dumps(str(v))


def to_toml(d: dict) -> str:
    """A TOML document of d's scalar keys and one-level tables (bare keys quoted)."""
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in d.items() if not isinstance(v, dict) and v is not None]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{json.dumps(k)}]")
            lines += [f"{json.dumps(sk)} = {toml_value(sv)}" for sk, sv in v.items()
                      if sv is not None and not isinstance(sv, dict)]
    return "\n".join(lines) + "\n"


PRESETS = [(resources.files("gankit") / "presets" / n).read_bytes()
           for n in ("dcgan.toml", "cdcgan.toml", "cifar-catdog.toml")]


def config_file(tmp_path_factory, name: str, data: bytes):
    path = tmp_path_factory.mktemp("cfg") / name
    path.write_bytes(data)
    out = loads_or_refuses(build_config, None, str(path), [])
    assert out is None or isinstance(out, Config)


@given(st.binary(max_size=200), st.sampled_from(["c.toml", "c.json", "c.cfg"]))
@example("é".encode("latin-1"), "c.toml")  # not UTF-8
@example(b"\xff\xfe{}", "c.json")
@example(b"a = " + b"[" * 5000 + b"]" * 5000, "c.toml")  # nesting deeper than the recursion limit
@example(b"[" * 100_000 + b"]" * 100_000, "c.json")
@example(b"[1, 2]", "c.json")  # valid JSON, not an object
@example(b'"dcgan"', "c.json")
@example(b'{"preset": ["x"]}', "c.json")
def test_fuzz_config_file_random_bytes(tmp_path_factory, data, name):
    config_file(tmp_path_factory, name, data)


@given(st.one_of(documents, well_formed()))
def test_fuzz_config_file_json(tmp_path_factory, d):
    text = json.dumps(d, default=str, allow_nan=True)
    config_file(tmp_path_factory, "c.json", text.encode())


@given(st.one_of(documents, well_formed()))
def test_fuzz_config_file_toml(tmp_path_factory, d):
    config_file(tmp_path_factory, "c.toml", to_toml(d).encode())


@given(st.sampled_from(PRESETS).flatmap(lambda p: mutated(p, header=len(p))))
def test_fuzz_mutated_preset_files(tmp_path_factory, data):
    config_file(tmp_path_factory, "c.toml", data)
