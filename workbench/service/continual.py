"""The continual-learning report: RA and BTI of several learners over seeds, and one
run's accuracy matrix, all read from the run store.

A cell (learner, seed) is the latest completed run of that learner on the task with those
task parameters, the learner's default config and the whole stream as its budget. The
missing cells are trained first, in this process, as ordinary runs (``train=False`` only
reads), so every number the report shows is a stored run's metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.base import ci95
from agents.common.continual import ACCURACY_PREFIX, TASKS_LEARNT
from envs.config import ConfigError
from workbench.service import runs as run_service
from workbench.store import RunRecord, Store

RA_KEY = "eval/retained_accuracy"
BTI_KEY = "eval/bti"


@dataclass(frozen=True)
class LearnerRow:
    """One learner's RA and BTI (fractions) over its seeds' runs, with 95% CI half-widths."""

    learner: str
    runs: tuple[int, ...]
    ra: float
    ra_ci95: float
    bti: float
    bti_ci95: float


@dataclass(frozen=True)
class ContinualReport:
    task: str
    task_params: dict[str, Any]
    seeds: tuple[int, ...]
    rows: tuple[LearnerRow, ...]
    matrix_run: int
    """The run whose accuracy matrix is shown (the first learner's, at the first seed)."""
    matrix: tuple[tuple[float, ...], ...]
    """Row t: held-out accuracy on tasks 0..t after learning task t."""
    trained: tuple[int, ...]
    """Runs this report trained because they were missing."""


def check_learners(names: Sequence[str], task: str) -> list[str]:
    """The learners named, each a registered agent that learns ``task``; one line otherwise."""
    from agents.registry import get_agent

    if not names:
        raise ConfigError("--learners is empty; e.g. --learners online-sgd,er,la-maml")
    for name in names:
        get_agent(name).check_task(task)
    if len(set(names)) != len(names):
        raise ConfigError(f"--learners {','.join(names)}: a learner is named twice")
    return list(names)


def find_run(
    store: Store, learner: str, settings: run_service.RunSettings, seed: int, steps: int
) -> RunRecord | None:
    """The latest completed run of this cell, or None."""
    found = None
    for run in store.list_runs(["completed"]):
        if (
            run.agent == learner
            and run.task == settings.task
            and run.seed == seed
            and run.total_steps >= steps
            and run.task_params == settings.task_params
            and run.config == settings.config
        ):
            found = run  # ids grow: the latest wins
    return found


def continual_report(
    store: Store,
    task: str,
    learners: Sequence[str],
    seeds: Sequence[int],
    *,
    task_values: Mapping[str, Any] | None = None,
    train: bool = True,
    on_train: Callable[[str, int, int], None] | None = None,
) -> ContinualReport:
    """Collect (and with ``train`` first train) every (learner, seed) run, then read RA,
    BTI and the matrix from their metrics. ``on_train(learner, seed, run_id)`` is called
    before each run trained here."""
    from envs.registry import get_task

    family = get_task(task)
    if not getattr(family, "continual", False):
        raise ConfigError(
            f"{task} is not a continual task; `report continual` reads digits-permuted or "
            "digits-rotated"
        )
    learners = check_learners(learners, task)
    cells: dict[str, list[RunRecord]] = {}
    trained: list[int] = []
    missing: list[str] = []
    for learner in learners:
        settings = run_service.check_settings(learner, task, task_values=task_values)
        steps = family.Params(**settings.task_params).stream_length
        cells[learner] = []
        for seed in seeds:
            run = find_run(store, learner, settings, seed, steps)
            if run is None and train:
                run_id = run_service.create_run(store, settings, steps=steps, seed=seed)
                if on_train is not None:
                    on_train(learner, seed, run_id)
                run = run_service.train_foreground(store, run_id)
                trained.append(run_id)
                if run.status != "completed":
                    raise ConfigError(
                        f"run {run_id} ({learner}, seed {seed}) ended {run.status}"
                        f"{': ' + run.error if run.error else ''}; the report needs it completed"
                    )
            if run is None:
                missing.append(f"{learner} seed {seed}")
            else:
                cells[learner].append(run)
    if missing:
        raise ConfigError(
            f"no completed run for {', '.join(missing)}; run the report without --no-train "
            "to train them"
        )
    rows = tuple(learner_row(store, learner, runs) for learner, runs in cells.items())
    first = cells[learners[0]][0]
    return ContinualReport(
        task=task,
        task_params=dict(first.task_params),
        seeds=tuple(seeds),
        rows=rows,
        matrix_run=first.id,
        matrix=accuracy_matrix(store, first.id),
        trained=tuple(trained),
    )


def learner_row(store: Store, learner: str, runs: Sequence[RunRecord]) -> LearnerRow:
    ra = np.array([final_value(store, run.id, RA_KEY) for run in runs])
    bti = np.array([final_value(store, run.id, BTI_KEY) for run in runs])
    return LearnerRow(
        learner,
        tuple(run.id for run in runs),
        float(ra.mean()),
        ci95(ra),
        float(bti.mean()),
        ci95(bti),
    )


def final_value(store: Store, run_id: int, key: str) -> float:
    value = store.last_value(run_id, key)
    if value is None:
        raise ConfigError(f"run {run_id} has no {key} metric; is it a continual learner's run?")
    return value


def accuracy_matrix(store: Store, run_id: int) -> tuple[tuple[float, ...], ...]:
    """Row t of a run's matrix: its task accuracies at the report where ``tasks_learnt``
    was t + 1."""
    by_step: dict[int, dict[str, float]] = {}
    for key, step, value in store.metrics(run_id):
        if key == TASKS_LEARNT or key.startswith(ACCURACY_PREFIX):
            by_step.setdefault(step, {})[key] = value
    rows = []
    for _, values in sorted(by_step.items()):
        count = int(values.get(TASKS_LEARNT, 0))
        rows.append(tuple(values[f"{ACCURACY_PREFIX}{j:02d}"] for j in range(count)))
    return tuple(rows)


def report_json(report: ContinualReport) -> dict[str, Any]:
    return {
        "task": report.task,
        "task_params": report.task_params,
        "seeds": list(report.seeds),
        "learners": [
            {
                "learner": row.learner,
                "runs": list(row.runs),
                "retained_accuracy": row.ra,
                "retained_accuracy_ci95": row.ra_ci95,
                "bti": row.bti,
                "bti_ci95": row.bti_ci95,
            }
            for row in report.rows
        ],
        "matrix_run": report.matrix_run,
        "accuracy_matrix": [list(row) for row in report.matrix],
        "trained": list(report.trained),
    }
