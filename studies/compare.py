"""Compare studies of one group: what each method chose, re-evaluated on fresh lifetimes.

A search's best value is optimistic (the max of noisy returns), so each method's choice
is trained again on K lifetimes whose seeds no search used (FRESH_SEED_BASE + k), and the
table reports their mean undiscounted return with a 95% interval, beside what the search
cost: lifetimes, env steps and wall time. For the meta-gradient method the fresh
lifetimes run the meta-gradient agent itself, and its discount is the mean learned final
gamma.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from agents.common.base import ci95
from studies.study import FRESH_SEED_BASE, META_GRADIENT_AGENTS, StudySpec, counts
from workbench.runner import execute
from workbench.store import RunRecord, Store


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


def fresh_runs(
    store: Store,
    name: str,
    spec: StudySpec,
    params: dict[str, Any],
    lifetimes: int,
    on_start: Callable[[int, int], None] = lambda k, run_id: None,
    train: bool = True,
) -> list[RunRecord]:
    """K completed re-evaluation lifetimes of the study's choice, training those missing
    (with ``train``; else only those already done).

    They are runs linked to the study with no trial; a run interrupted here is trained
    again from scratch next time (its seed is its identity).
    """
    config = spec.config_for(params)
    done: dict[int, RunRecord] = {}
    for run in store.study_runs(name):
        if run.trial is None and run.status == "completed" and run.config == config:
            done.setdefault(run.seed, run)
    runs = []
    for k in range(lifetimes):
        seed = FRESH_SEED_BASE + k
        if seed not in done and not train:
            continue
        if seed not in done:
            run_id = spec.create_run(store, name, config, seed, f"{name}/fresh-{k}")
            on_start(k, run_id)
            done[seed] = execute(store, run_id)
        runs.append(done[seed])
    return runs


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
    store: Store,
    lifetimes: int,
    on_start: Callable[[int, int], None] = lambda k, run_id: None,
    train: bool = True,
) -> Row:
    name = study.study_name
    lived, steps, wall = search_cost(study)
    best = None
    if counts(study).complete:
        best = study.best_value
    params = chosen_params(study, spec)
    discount: float | None = None
    mean = interval = None
    runs: list[RunRecord] = []
    if params is not None:
        runs = fresh_runs(store, name, spec, params, lifetimes, on_start, train)
        returns = np.array([r.summary["eval_return_mean"] for r in runs if r.summary])
        if len(returns):
            mean, interval = float(returns.mean()), ci95(returns)
        if spec.agent in META_GRADIENT_AGENTS:
            learned = [store.last_value(r.id, "meta/discount") for r in runs]
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
        fresh_lifetimes=len(runs),
        lifetimes=lived,
        env_steps=steps,
        wall_s=wall,
        search_best=best,
    )
