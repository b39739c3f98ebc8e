"""launch/ranges.py: each numeric key's one range, and the message a value outside it gets (the rows of
docs/errors.md's "One range per key" table, asserted whole through the CLI)."""

import pytest
from bad_input_helpers import error_line

from gankit.cli import main
from gankit.launch.ranges import RANGES, Range


@pytest.mark.parametrize("sets, message", [
    (["data.augment_degrees=0"], "invalid config: data.augment_degrees=0.0; must be in (0, 180] (a rotation range in "
                                 "degrees; 10 is typical)"),
    (["loss.r1_every=0"], "invalid config: loss.r1_every=0; must be in [1, 65536] (R1 every N-th D step: 1 = every "
                          "step, 16 in StyleGAN2)"),
    (["loss.real_label=0"], "invalid config: loss.real_label=0.0; must be in (0, 1] (0.9 is typical smoothing)"),
    (["model.grow_steps=-1"], "invalid config: model.grow_steps=-1; must be >= 0 (steps per progan stage; 0 = no "
                              "growing)"),
    (["model.name=progan", "model.d_dropout=0.3"], "invalid config: model.d_dropout does not apply to progan "
     "(equalised learning rate, pixel norm in G, minibatch stddev via model.mbstd); turn it off"),
    (["train.batch_size=100000"], "invalid config: train.batch_size=100000; must be in [1, 65536]"),
])
def test_out_of_range_values_get_their_keys_sentence(sets, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dry-run", *[x for s in sets for x in ("--set", s)]]) == 2
    assert error_line(capsys) == message
    assert list(tmp_path.iterdir()) == []


def test_below_speaks_only_under_the_low_end_and_notes_follow_the_range():
    lr = RANGES["optim.g_lr"]
    assert lr.problem("optim.g_lr", 0.0) == "optim.g_lr=0.0; a learning rate must be > 0 (e.g. 2e-4)"
    assert lr.problem("optim.g_lr", float("inf")) == "optim.g_lr=inf; must be a finite number > 0"
    assert lr.problem("optim.g_lr", 2e-4) is None
    r = Range(1, 10, note=" (a count)", below="too small")
    assert (r.problem("k", 0), r.problem("k", 11), r.problem("k", 10)) == ("k=0; too small", "k=11; must be in [1, 10] "
                                                                           "(a count)", None)
