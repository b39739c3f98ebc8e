"""The training clock: a resumed run counts the seconds of its earlier sessions (the linear lr
decay that follows its share of the budget: tests/test_optim.py)."""

from gankit.training.clock import Clock


def test_a_resumed_clock_counts_the_earlier_sessions():
    c = Clock(budget=100.0)
    assert c.fraction() == 0.0 and not c.time_up()  # not started: nothing spent
    c.start(before=99.9999)
    assert c.spent() >= 99.9999
    c.start(before=100.0)
    assert c.time_up() and c.fraction() >= 1.0
    assert Clock().fraction() == 0.0 and not Clock().time_up()  # no budget: never up
