"""Every numeric config key has a valid range (launch/ranges.py RANGES), and every value outside
it is refused at `gankit train --dry-run`: one line naming the key, exit 2, nothing written.
Property-based (Hypothesis, like the config fuzzer): `pytest -k fuzz`, thorough with
HYPOTHESIS_PROFILE=thorough."""

import os
import typing

import pytest
from bad_input_helpers import error_line
from hypothesis import given, settings
from hypothesis import strategies as st

from gankit.cli import main
from gankit.config import field_types
from gankit.launch.ranges import RANGES, Range


def number_type(tp: object) -> type | None:
    """int or float for a numeric key, also one that may be "auto" (int | str); else None."""
    inner = [a for a in typing.get_args(tp) if a is not str] if str in typing.get_args(tp) else [tp]
    return inner[0] if len(inner) == 1 and inner[0] in (int, float) else None


NUMERIC = {k: n for k, t in field_types().items() if (n := number_type(t)) is not None}
FAR = 2**40


def outside(rng: Range, tp: type) -> st.SearchStrategy:
    """Values of type `tp` outside `rng` (and NaN / infinities for floats)."""
    parts = []
    if rng.low is not None:
        if tp is int:
            top = int(rng.low) - (0 if rng.low_open else 1)
            parts.append(st.integers(-FAR, top))
        else:
            parts.append(st.floats(-1e12, rng.low, exclude_max=not rng.low_open, allow_nan=False))
    if rng.high is not None:
        if tp is int:
            bottom = int(rng.high) + (0 if rng.high_open else 1)
            parts.append(st.integers(bottom, FAR))
        else:
            parts.append(st.floats(rng.high, 1e12, exclude_min=not rng.high_open, allow_nan=False))
    if tp is float:
        parts.append(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    return st.one_of(parts)


def test_every_numeric_key_has_a_range():
    assert set(RANGES) == set(NUMERIC)


# 58 keys: a few examples each in the default suite, the profile's many under HYPOTHESIS_PROFILE=thorough
EXAMPLES = 8 if os.environ.get("HYPOTHESIS_PROFILE", "default") == "default" else settings().max_examples


@pytest.mark.parametrize("key", sorted(NUMERIC))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_an_out_of_range_value_is_refused_at_dry_run_fuzz(key, data, capsys, tmp_path):
    value = data.draw(outside(RANGES[key], NUMERIC[key]), label=key)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = main(["train", "--dry-run", "--set", f"{key}={value!r}"])
    finally:
        os.chdir(cwd)
    assert code == 2
    line = error_line(capsys)
    assert key in line, line
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_the_closed_ends_of_each_range_are_not_refused_by_it(key):
    """The range is not stricter than it says: at a closed end the range rule stays silent
    (another rule may still speak, e.g. model.freeze_d_layers needs pretrained weights)."""
    from gankit.errors import GankitError
    from gankit.launch.presets import build_config

    rng, tp = RANGES[key], NUMERIC[key]
    for end, is_open in ((rng.low, rng.low_open), (rng.high, rng.high_open)):
        if end is None or is_open:
            continue
        try:
            build_config(sets=[f"{key}={tp(end)!r}"])
        except GankitError as e:
            assert f"{key}={tp(end)}; must be" not in str(e), str(e)
