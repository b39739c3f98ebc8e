"""The training clock: seconds of training over every session of a run.

A resumed run starts from the checkpoint's seconds (`start(before)`), so `train.budget` counts
the whole run, not the last session.  The budget ends training on it, and `optim.lr_decay=linear`
under a budget reads `fraction()`, so the learning rates reach 0 when the budget is spent.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self, budget: float = 0.0):
        self.budget = budget  # seconds; 0: no budget
        self.before, self.t0 = 0.0, None

    def start(self, before: float = 0.0) -> None:
        self.before, self.t0 = before, time.perf_counter()

    def spent(self) -> float:
        return self.before + (time.perf_counter() - self.t0 if self.t0 is not None else 0.0)

    def fraction(self) -> float:
        """The share of the budget spent (0 before the loop starts, or without a budget)."""
        return self.spent() / self.budget if self.budget > 0 else 0.0

    def time_up(self) -> bool:
        return self.budget > 0 and self.spent() >= self.budget
