"""What studies need from whoever trains: one agent lifetime at a time, or a population
of them.

Studies never train or store anything themselves. They are handed a :class:`Trainer`
(the workbench passes one that records each lifetime as a run, `workbench/trials.py`) and
describe each lifetime as a :class:`Lifetime`; the trainer reports back the opaque id it
gave the lifetime (a run id) and a :class:`LifetimeResult`. While a lifetime trains, each
new evaluation goes to ``on_evaluation``, whose :class:`Verdict` may prune it.

A :class:`PopulationTrainer` also trains several lifetimes of one agent on one task as
one batched computation (agents/common/population.py): the hooks then name the member by
its index in the list, and a PRUNE ends that member alone while the others go on.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Verdict(enum.Enum):
    """What a study says after a lifetime's evaluation: go on, or prune it now."""

    CONTINUE = "continue"
    PRUNE = "prune"


@dataclass(frozen=True)
class Lifetime:
    """One lifetime a study wants trained: a trial's, or (``trial`` None) a fresh
    re-evaluation lifetime of the study's choice."""

    study: str
    trial: int | None
    agent: str
    task: str
    config: dict[str, Any]
    task_params: dict[str, Any]
    seed: int
    steps: int
    name: str


FINISHED = ("completed", "pruned", "stopped", "failed")


@dataclass(frozen=True)
class LifetimeResult:
    """How a lifetime ended.

    ``status``: ``completed`` (trained its steps), ``pruned`` (stopped because
    ``on_evaluation`` said PRUNE), ``stopped`` (interrupted: the stop signal, Ctrl+C, a
    stop asked from elsewhere) or ``failed`` (``error`` says why).
    """

    run_id: int
    status: str
    seed: int
    value: float | None
    """The undiscounted return of its last evaluation."""
    learned_discount: float | None
    """The last discount it logged (``meta/discount``), for agents that learn theirs."""
    env_steps: int
    wall_s: float
    error: str | None = None


def keep_going(step: int, value: float) -> Verdict:
    return Verdict.CONTINUE


class Trainer(Protocol):
    def train(
        self,
        lifetime: Lifetime,
        *,
        on_start: Callable[[int], None] = ...,
        on_evaluation: Callable[[int, float], Verdict] = ...,
        stop: threading.Event | None = None,
    ) -> LifetimeResult:
        """Train the lifetime here until it ends; ``on_start(run_id)`` once it has an id,
        ``on_evaluation(env_step, return)`` after each new evaluation."""
        ...

    def finished(self, study: str, config: dict[str, Any]) -> dict[int, LifetimeResult]:
        """The study's completed fresh lifetimes (``trial`` None) with this config, by
        seed: the re-evaluations trained before, which a comparison reuses."""
        ...


class PopulationTrainer(Trainer, Protocol):
    def train_population(
        self,
        lifetimes: Sequence[Lifetime],
        *,
        on_start: Callable[[int, int], None] = ...,
        on_evaluation: Callable[[int, int, float], Verdict] = ...,
        stop: threading.Event | None = None,
    ) -> list[LifetimeResult]:
        """Train the lifetimes (one agent, task, step budget and shape; each its own seed
        and config) together here until each ends; ``on_start(member, run_id)`` once each
        has an id, ``on_evaluation(member, env_step, return)`` after each new evaluation of
        a member (PRUNE stops that member only). One result per lifetime, in order."""
        ...
