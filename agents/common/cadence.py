"""When a learn loop evaluates and reports: the one rule every agent's loop follows.

A loop advances in iterations of one or more env steps (a batched step, a rollout, a batch
of meta-episodes). After each iteration it asks ``cadence.due(before, after)`` with the
step counts around it. An interval fires when a multiple of it lies in ``(before, after]``,
so a loop that jumps past a multiple still fires once, and nothing fires at step 0. The
iteration that reaches the budget always evaluates and reports, so every run ends with an
evaluation, and an evaluation is always reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

REPORT_INTERVAL = 1000
"""Env steps between reports of loops whose iterations are a few steps long (DQN, A2C): one
report per 1000 steps keeps the store's metric rows proportionate to the run."""


def crossed(before: int, after: int, interval: int) -> bool:
    """Whether a multiple of ``interval`` lies in (before, after]."""
    return after // interval > before // interval


class Due(NamedTuple):
    """What a loop does after one iteration."""

    evaluate: bool
    report: bool


@dataclass(frozen=True)
class Cadence:
    """Evaluate every ``eval_interval`` env steps and at the end; report every
    ``report_interval`` steps (every iteration when None) and whenever it evaluates."""

    total_steps: int
    eval_interval: int
    report_interval: int | None = None

    def due(self, before: int, after: int) -> Due:
        """What is due after an iteration that moved the step count from before to after."""
        evaluate = crossed(before, after, self.eval_interval) or after >= self.total_steps
        report = (
            evaluate or self.report_interval is None or crossed(before, after, self.report_interval)
        )
        return Due(evaluate, report)


class Ticks:
    """When a learn loop yields a tick inside a long update (``Report.tick``): once
    ``seconds`` of work have passed since the last, or never (``seconds`` None). Reading
    the clock is all it does: a tick changes nothing the agent computes."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.last = time.monotonic()

    def due(self) -> bool:
        if self.seconds is None:
            return False
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True
