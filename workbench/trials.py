"""The link between a study's lifetimes and the workbench's runs, in one place.

A lifetime a study wants trained (a trial's, or a fresh re-evaluation of its choice)
becomes a run row carrying the study's name and the trial number (none for a fresh
lifetime); the study keeps the run's id on the trial (``TrialRow.run_id``). Everything
that follows that link, either way, is here: training a lifetime as a run
(:class:`RunTrainer`, what the workbench hands to `studies`), a study's runs, and the
curves of its running trials.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from studies.lifetimes import Lifetime, LifetimeResult, Verdict, keep_going
from workbench.store import ACTIVE, RunRecord, Store

if TYPE_CHECKING:
    from studies.catalog import TrialRow

LEARNED_DISCOUNT = "meta/discount"
"""The metric in which agents that learn their discount log it."""


class _StopOrPrune(threading.Event):
    """Set by a prune verdict, and reads as set when the caller's stop signal is."""

    def __init__(self, stop: threading.Event | None) -> None:
        super().__init__()
        self.stop = stop

    def is_set(self) -> bool:
        return super().is_set() or (self.stop is not None and self.stop.is_set())


class _Evaluations:
    """Each member's new evaluations, handed to the study's hook once each (progress is
    reported after every report, an evaluation only at some), and which members it
    pruned."""

    def __init__(self, on_evaluation: Callable[[int, int, float], Verdict]) -> None:
        self.on_evaluation = on_evaluation
        self.last_step: dict[int, int] = {}
        self.pruned: dict[int, bool] = defaultdict(bool)

    def seen(self, member: int, progress) -> Verdict:
        step = progress.summary.get("eval_step")
        if step is None or step == self.last_step.get(member) or self.pruned[member]:
            return Verdict.CONTINUE
        self.last_step[member] = step
        verdict = self.on_evaluation(member, step, progress.summary["eval_return_mean"])
        self.pruned[member] = verdict is Verdict.PRUNE
        return verdict


class RunTrainer:
    """Trains each lifetime as a run in ``store``, in this process (``studies.lifetimes.
    PopulationTrainer``): its curves, logs and checkpoints are those of any run. A
    population's members are runs too, one row each, sharing the first one's id as their
    ``population``; ``device`` (auto, cpu or cuda) is where they train."""

    def __init__(self, store: Store, device: str | None = None) -> None:
        self.store = store
        self.device = device

    def _row(self, lifetime: Lifetime) -> dict[str, Any]:
        """The run row of a lifetime: ``create_run``'s keyword arguments (a plug-in agent's
        with its source hash)."""
        from agents.registry import get_agent

        return {
            "agent": lifetime.agent,
            "task": lifetime.task,
            "config": lifetime.config,
            "task_params": lifetime.task_params,
            "seed": lifetime.seed,
            "total_steps": lifetime.steps,
            "name": lifetime.name,
            "study": lifetime.study,
            "trial": lifetime.trial,
            "device": self.device,
            "agent_sha256": get_agent(lifetime.agent).source_sha256,
        }

    def train(
        self,
        lifetime: Lifetime,
        *,
        on_start: Callable[[int], None] = lambda run_id: None,
        on_evaluation: Callable[[int, float], Verdict] = keep_going,
        stop: threading.Event | None = None,
    ) -> LifetimeResult:
        from workbench.runner import execute  # torch and the agents: only when training

        run_id = self.store.create_run(**self._row(lifetime))
        on_start(run_id)
        halt = _StopOrPrune(stop)
        evaluations = _Evaluations(lambda index, step, value: on_evaluation(step, value))

        def on_progress(progress) -> None:
            if evaluations.seen(0, progress) is Verdict.PRUNE:
                halt.set()

        run = execute(self.store, run_id, on_progress=on_progress, stop_event=halt)
        return self._result(run, evaluations.pruned[0])

    def train_population(
        self,
        lifetimes: Sequence[Lifetime],
        *,
        on_start: Callable[[int, int], None] = lambda member, run_id: None,
        on_evaluation: Callable[[int, int, float], Verdict] = lambda member, step, value: (
            Verdict.CONTINUE
        ),
        stop: threading.Event | None = None,
    ) -> list[LifetimeResult]:
        from workbench.population_runner import execute_population  # torch: only here

        run_ids = self.store.create_population([self._row(lifetime) for lifetime in lifetimes])
        for member, run_id in enumerate(run_ids):
            on_start(member, run_id)
        member_of = {run_id: member for member, run_id in enumerate(run_ids)}
        evaluations = _Evaluations(on_evaluation)

        def on_progress(run_id: int, progress) -> None:
            evaluations.seen(member_of[run_id], progress)

        runs = execute_population(
            self.store,
            run_ids,
            on_progress=on_progress,
            stop_event=stop,
            member_stop=lambda run_id: evaluations.pruned[member_of[run_id]],
        )
        return [
            self._result(run, evaluations.pruned[member_of[run.id]])
            for run in sorted(runs, key=lambda run: member_of[run.id])
        ]

    def _result(self, run: RunRecord, pruned: bool) -> LifetimeResult:
        """A pruned lifetime's run ends ``stopped`` (the runner knows no pruning)."""
        result = self.result(run)
        return replace(result, status="pruned") if pruned and run.status == "stopped" else result

    def finished(self, study: str, config: dict[str, Any]) -> dict[int, LifetimeResult]:
        done: dict[int, LifetimeResult] = {}
        for run in study_runs(self.store, study):
            if run.trial is None and run.status == "completed" and run.config == config:
                done.setdefault(run.seed, self.result(run))
        return done

    def result(self, run: RunRecord) -> LifetimeResult:
        status = run.status if run.status in ("completed", "failed") else "stopped"
        now = time.time()
        return LifetimeResult(
            run_id=run.id,
            status=status,
            seed=run.seed,
            value=run.summary.get("eval_return_mean"),
            learned_discount=self.store.last_value(run.id, LEARNED_DISCOUNT),
            env_steps=run.steps_done,
            wall_s=(run.ended_at or now) - (run.started_at or now),
            error=run.error,
        )


def study_runs(store: Store, study: str) -> list[RunRecord]:
    """Runs of a study in this store: its trials' lifetimes and its fresh re-evaluations."""
    return store.study_runs(study)


def active_runs(store: Store, study: str) -> list[RunRecord]:
    return [run for run in study_runs(store, study) if run.status in ACTIVE]


@dataclass(frozen=True)
class Curve:
    """One metric of a run: steps and values, in step order."""

    run_id: int
    metric: str
    steps: list[int]
    values: list[float]


def trial_curves(
    store: Store, study: str, trials: Iterable[TrialRow], metric: str, *, running_only=True
) -> dict[int, Curve]:
    """Trial number -> the ``metric`` curve of its run in this store, for the study's
    trials with a run here (running ones only, by default).

    A trial trained on another machine has a run id of that machine's store; a run of that
    id here may belong to something else, so the run's own link is checked too.
    """
    wanted = {
        t.run_id: t.number
        for t in trials
        if t.run_id is not None and (t.running or not running_only)
    }
    curves = {}
    for run in store.get_runs(wanted):
        number = wanted[run.id]
        if run.study != study or run.trial != number:
            continue
        points = store.metrics(run.id, metric)
        curves[number] = Curve(
            run.id, metric, [step for _, step, _ in points], [value for _, _, value in points]
        )
    return curves
