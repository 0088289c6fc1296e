"""Compare studies of one group: what each method chose, re-evaluated on fresh lifetimes.

A search's best value is optimistic (the max of noisy returns), so each method's choice
is trained again on K lifetimes whose seeds no search used (FRESH_SEED_BASE + k), and the
table reports their mean undiscounted return with a 95% interval, beside what the search
cost: lifetimes, env steps and wall time. For the meta-gradient method the fresh
lifetimes run the meta-gradient agent itself, and its discount is the mean learned final
gamma.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from agents.common.base import ci95
from agents.registry import get_agent
from studies.bulk import counts
from studies.lifetimes import LifetimeResult, PopulationTrainer, Trainer
from studies.study import FRESH_SEED_BASE, StudySpec, learns_discount


@dataclass
class Row:
    study: str
    method: str
    agent: str
    discount: float | None
    return_mean: float | None
    return_ci95: float | None
    fresh_lifetimes: int
    lifetimes: int
    env_steps: int
    wall_s: float
    search_best: float | None
    fresh_runs: list[int] = field(default_factory=list)
    """The run ids of the fresh lifetimes counted (the trainer's ids, in seed order)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def chosen_params(study: optuna.Study, spec: StudySpec) -> dict[str, Any] | None:
    """The best trial's parameters (search methods), {} for meta-gradient, None if no
    trial completed."""
    if spec.method == "meta-gradient":
        return {}
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        return None
    return dict(max(complete, key=lambda t: t.value).params)


def fresh_lifetimes(
    trainer: Trainer | PopulationTrainer,
    name: str,
    spec: StudySpec,
    params: dict[str, Any],
    lifetimes: int,
    on_start: Callable[[int, int], None] = lambda k, run_id: None,
    train: bool = True,
    stop: threading.Event | None = None,
    population: int = 1,
) -> list[LifetimeResult]:
    """K re-evaluation lifetimes of the study's choice: those completed before, and (with
    ``train``) the missing ones trained now, up to ``population`` at once as one batched
    population where the agent has that form (``on_start(k, run_id)`` as each begins).

    ``stop`` (or a lifetime stopped from elsewhere, e.g. `runs stop`) ends the training:
    the lifetime checkpoints, is not counted, and none after its batch starts. A lifetime
    interrupted here is trained again from scratch next time (its seed is its identity).
    """
    config = spec.config_for(params)
    done = trainer.finished(name, config)
    missing = [k for k in range(lifetimes) if FRESH_SEED_BASE + k not in done]
    size = population if get_agent(spec.agent).population is not None else 1
    for first in range(0, len(missing) if train else 0, size):
        if stop is not None and stop.is_set():
            break
        batch = missing[first : first + size]
        wanted = [
            spec.lifetime(name, config, FRESH_SEED_BASE + k, f"{name}/fresh-{k}") for k in batch
        ]
        if len(batch) == 1:
            started = functools.partial(on_start, batch[0])
            trained = [trainer.train(wanted[0], on_start=started, stop=stop)]
        else:
            trained = trainer.train_population(  # type: ignore[union-attr]
                wanted,
                on_start=lambda member, run_id, batch=batch: on_start(batch[member], run_id),
                stop=stop,
            )
        for result in trained:
            if result.status != "stopped":
                done[result.seed] = result
        if any(result.status == "stopped" for result in trained):
            break
    seeds = [FRESH_SEED_BASE + k for k in range(lifetimes)]
    return [done[seed] for seed in seeds if seed in done]


def search_cost(study: optuna.Study) -> tuple[int, int, float]:
    """Lifetimes the search trained (whatever their end), their env steps and wall time."""
    lifetimes, steps, wall = 0, 0, 0.0
    for trial in study.get_trials(deepcopy=False):
        if "env_steps" in trial.user_attrs:
            lifetimes += 1
            steps += int(trial.user_attrs["env_steps"])
            wall += float(trial.user_attrs.get("wall_s", 0.0))
    return lifetimes, steps, wall


def compare_row(
    study: optuna.Study,
    spec: StudySpec,
    trainer: Trainer | PopulationTrainer,
    lifetimes: int,
    on_start: Callable[[int, int], None] = lambda k, run_id: None,
    train: bool = True,
    stop: threading.Event | None = None,
    population: int | None = None,
) -> Row:
    """The study's row: its choice on ``lifetimes`` fresh lifetimes (trained ``population``
    at a time, default the study's own), beside what its search cost."""
    name = study.study_name
    lived, steps, wall = search_cost(study)
    best = None
    if counts(study).complete:
        best = study.best_value
    params = chosen_params(study, spec)
    discount: float | None = None
    mean = interval = None
    results: list[LifetimeResult] = []
    if params is not None:
        size = spec.population if population is None else population
        results = fresh_lifetimes(
            trainer, name, spec, params, lifetimes, on_start, train, stop, size
        )
        returns = np.array([r.value for r in results if r.value is not None])
        if len(returns):
            mean, interval = float(returns.mean()), ci95(returns)
        if learns_discount(spec.agent, spec.fixed):
            learned = [r.learned_discount for r in results]
            learned = [g for g in learned if g is not None]
            discount = float(np.mean(learned)) if learned else None
        else:
            discount = spec.config_for(params).get("discount")
    return Row(
        study=name,
        method=spec.method,
        agent=spec.agent,
        discount=discount,
        return_mean=mean,
        return_ci95=interval,
        fresh_lifetimes=len(results),
        lifetimes=lived,
        env_steps=steps,
        wall_s=wall,
        search_best=best,
        fresh_runs=[r.run_id for r in results],
    )
