"""What every agent yields and offers: reports and the agent protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

import numpy as np

from envs.config import Config

RETURN_KEYS = ("charts/episode_return", "charts/meta_episode_return")
"""Metric keys of training returns, per episode or per meta-episode."""
EVAL_KEYS = ("eval/episode_return", "eval/meta_episode_return", "eval/retained_accuracy")
"""Metric keys of evaluation returns (for the continual learners, the mean held-out
accuracy over the tasks seen so far); ``KEY_std`` or ``KEY_ci95`` may accompany them."""


class Report(NamedTuple):
    """Scalars logged at one environment step, with slash-namespaced keys; or a tick."""

    step: int
    scalars: dict[str, float]
    tick: bool = False
    """A tick, yielded inside a long update when ``learn`` was given ``tick_seconds``:
    no scalars, only a point where the caller may stop (``state_dict`` is consistent
    there: the update so far, which a resume does not finish)."""


class Agent(Protocol):
    """A learner (or reference policy) that trains in a generator and checkpoints itself.

    ``learn`` yields reports in increasing step order and stops when ``total_steps`` env
    steps are done. Between two yields the agent is consistent: ``state_dict`` taken there
    and loaded into a fresh agent continues the same run. The caller stops training by
    simply not asking for the next report. With ``tick_seconds``, ``learn`` also yields
    ticks (``Report.tick``) at least that often inside its inner update loops (gradient
    steps, PPO epochs and minibatches, segments), so a caller can stop within a long
    update; the reports, and every number in them, are the same with or without ticks.
    """

    config: Config
    steps_done: int

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]: ...

    def evaluate(self, episodes: int) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def weights(self) -> dict[str, Any]:
        """The network parameters alone: the part of ``state_dict`` another run can start
        from (``load_weights``), without optimiser, buffers, counters or RNGs."""
        ...

    def load_weights(self, state: dict[str, Any]) -> None:
        """Take the network parameters from ``weights()`` or a whole ``state_dict``;
        raises RuntimeError when the shapes do not fit this agent's networks."""
        ...


def ci95(values: np.ndarray) -> float:
    """Half-width of the normal 95% confidence interval of the mean of ``values``."""
    return float(1.96 * values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
