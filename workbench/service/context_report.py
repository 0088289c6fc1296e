"""The context report: a single-task agent's context modes (agents/common/context_modes.py)
x seeds on a contextual family, every run's greedy policy on every evaluation split of the
family (envs/splits.py), summarised per mode and split over the seeds.

A cell (mode, seed) is the latest completed run of the agent on the task with those task
parameters, the agent's config with ``context`` = mode (and the ``--set`` values), that
seed and that step budget. The missing ones are trained first, in this process, a mode's
missing seeds as one population where the agent has a batched form; so every number is a
stored run's checkpoint played on the split's contexts, as ``workbench eval RUN --split``
plays it (the same contexts for runs of one seed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.base import ci95
from envs.config import ConfigError
from workbench.service import populations, runs
from workbench.service.contexts import evaluate_run_split
from workbench.store import RunRecord, Store

PROTOCOL = ("train", "interpolation", "combinatorial", "extrapolation-single", "extrapolation-all")
"""Kirk et al.'s splits, as CARL's protocol evaluates them (``test`` is an alias, ``all``
the whole range); a family with one varied factor defines three of them."""


@dataclass(frozen=True)
class ContextCell:
    """One mode on one split: the mean return per seed (each over the split's contexts),
    their mean and 95% CI over seeds, and the share of contexts solved (mean over seeds)."""

    mode: str
    split: str
    runs: tuple[int, ...]
    per_seed: tuple[float, ...]
    solved: float | None

    @property
    def mean(self) -> float:
        return float(np.mean(self.per_seed))

    @property
    def ci95(self) -> float:
        return ci95(np.asarray(self.per_seed))


@dataclass(frozen=True)
class ContextReport:
    agent: str
    task: str
    task_params: dict[str, Any]
    steps: int
    seeds: tuple[int, ...]
    modes: tuple[str, ...]
    splits: tuple[str, ...]
    cells: tuple[ContextCell, ...]
    contexts: int
    trained: tuple[int, ...]

    def cell(self, mode: str, split: str) -> ContextCell:
        return next(c for c in self.cells if c.mode == mode and c.split == split)


def check_modes(agent: str, modes: Sequence[str], agent_values: Mapping[str, Any]) -> list[str]:
    """The modes named, for an agent with a ``context`` field; one line otherwise."""
    from agents.common.context_modes import CONTEXT_MODES
    from agents.registry import get_agent
    from envs.config import fields

    if not modes:
        raise ConfigError(
            "--modes is empty; e.g. --modes hidden,explicit,learned,predictive,probing",
            field="modes",
        )
    spec = get_agent(agent)
    if "context" not in {info.name for info in fields(spec.config)}:
        raise ConfigError(
            f"agent {agent} has no context modes; `report context` compares the modes of dqn",
            field="agent",
        )
    if "context" in agent_values:
        raise ConfigError("context is set by --modes; drop it from --set", field="context")
    for mode in modes:
        if mode not in CONTEXT_MODES:
            raise ConfigError(
                f"--modes: {mode!r} is not a context mode; use some of {', '.join(CONTEXT_MODES)}",
                field="modes",
            )
    if len(set(modes)) != len(modes):
        raise ConfigError(f"--modes {','.join(modes)}: a mode is named twice", field="modes")
    return list(modes)


def find_run(store: Store, settings: runs.RunSettings, seed: int, steps: int) -> RunRecord | None:
    """The latest completed run of this cell, or None: its config may differ in the
    context fields its mode does not read (say a probing setting, for a hidden run)."""
    from agents.common.context_modes import unread_fields

    unread = unread_fields(settings.config["context"])

    def read(config: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in config.items() if key not in unread}

    found = None
    for run in store.list_runs(["completed"]):
        if (
            run.agent == settings.agent
            and run.task == settings.task
            and run.seed == seed
            and run.total_steps == steps
            and run.task_params == settings.task_params
            and read(run.config) == read(settings.config)
        ):
            found = run  # ids grow: the latest wins
    return found


def context_report(
    store: Store,
    agent: str,
    task: str,
    modes: Sequence[str],
    seeds: Sequence[int],
    *,
    steps: int,
    agent_values: Mapping[str, Any] | None = None,
    task_values: Mapping[str, Any] | None = None,
    contexts: int = 100,
    train: bool = True,
    on_train: Callable[[str, list[int]], None] | None = None,
) -> ContextReport:
    """Collect (with ``train``, first train) every (mode, seed) run, then play each on
    every split of the protocol its family defines. ``on_train(mode, run_ids)`` is called
    before the runs of a mode are trained here."""
    agent_values = dict(agent_values or {})
    modes = check_modes(agent, modes, agent_values)
    checked = {
        mode: runs.check_settings(
            agent,
            task,
            agent_values=agent_values | {"context": mode},
            task_values=task_values,
            steps=steps,
        )
        for mode in modes
    }
    first = next(iter(checked.values()))
    splits = protocol_splits(task, first.task_params)
    cells: dict[str, dict[int, RunRecord]] = {}
    trained: list[int] = []
    for mode, settings in checked.items():
        found = {seed: find_run(store, settings, seed, steps) for seed in seeds}
        missing = [seed for seed, run in found.items() if run is None]
        if missing and not train:
            raise ConfigError(
                f"no completed run of context={mode} for seed(s) {', '.join(map(str, missing))}; "
                "run the report without --no-train to train them"
            )
        if missing:
            values = agent_values | {"context": mode}
            ids = queue(store, settings, values, task_values, missing, steps)
            if on_train is not None:
                on_train(mode, ids)
            for run in train_runs(store, agent, ids):
                if run.status != "completed":
                    raise ConfigError(
                        f"run {run.id} ({agent}, context={mode}, seed {run.seed}) ended "
                        f"{run.status}{': ' + run.error if run.error else ''}; the report "
                        "needs it completed"
                    )
                found[run.seed] = run
            trained.extend(ids)
        cells[mode] = found
    by_mode = {mode: [cells[mode][seed] for seed in seeds] for mode in modes}
    return ContextReport(
        agent, task, dict(first.task_params), steps, tuple(seeds), tuple(modes), splits,
        evaluate_cells(store, by_mode, splits, contexts), contexts, tuple(trained),
    )  # fmt: skip


def evaluate_cells(
    store: Store,
    by_mode: Mapping[str, Sequence[RunRecord]],
    splits: Sequence[str],
    contexts: int,
    on_run: Callable[[int], None] | None = None,
) -> tuple[ContextCell, ...]:
    """Every run's last checkpoint on ``contexts`` contexts of every split (its held-out
    seed's, as `eval --split` draws them), one cell per mode and split; ``on_run(run_id)``
    before each run is played."""
    played = {}
    for group in by_mode.values():
        for run in group:
            if on_run is not None:
                on_run(run.id)
            played[run.id] = {
                split: evaluate_run_split(store, run, split, contexts=contexts) for split in splits
            }
    cells = []
    for mode, group in by_mode.items():
        for split in splits:
            results = [played[run.id][split] for run in group]
            solved = [r.solved for r in results]
            cells.append(
                ContextCell(
                    mode,
                    split,
                    tuple(run.id for run in group),
                    tuple(r.mean for r in results),
                    None if solved[0] is None else float(np.mean(solved)),
                )
            )
    return tuple(cells)


def report_of_runs(
    store: Store,
    run_ids: Sequence[int],
    contexts: int = 100,
    on_run: Callable[[int], None] | None = None,
) -> ContextReport:
    """The context table of chosen runs (the TUI's): runs of one agent on one task with
    the same task parameters and budget, grouped by their context mode (seeds as they
    are), refused in one line otherwise."""
    from agents.common.context_modes import CONTEXT_MODES

    chosen = store.get_runs(run_ids)
    if not chosen:
        raise ConfigError("no runs chosen; mark runs of one agent on a contextual task")
    first = chosen[0]
    for run in chosen:
        same = (run.agent, run.task, run.task_params, run.total_steps)
        if same != (first.agent, first.task, first.task_params, first.total_steps):
            raise ConfigError(
                f"run {run.id} ({run.agent} on {run.task}) differs from run {first.id} in its "
                "agent, task, task parameters or budget; a context table compares the modes of one "
                "agent on one task"
            )
        if "context" not in run.config:
            raise ConfigError(f"run {run.id} ({run.agent}) has no context mode")
        if run.status != "completed":
            raise ConfigError(f"run {run.id} is {run.status}; the table plays completed runs")
    splits = protocol_splits(first.task, first.task_params)
    by_mode: dict[str, list[RunRecord]] = {}
    for run in sorted(chosen, key=lambda r: (CONTEXT_MODES.index(r.config["context"]), r.seed)):
        by_mode.setdefault(run.config["context"], []).append(run)
    return ContextReport(
        first.agent, first.task, dict(first.task_params), first.total_steps,
        tuple(sorted({run.seed for run in chosen})), tuple(by_mode), splits,
        evaluate_cells(store, by_mode, splits, contexts, on_run), contexts, (),
    )  # fmt: skip


def protocol_splits(task: str, task_values: Mapping[str, Any]) -> tuple[str, ...]:
    """The splits of the protocol the task's family defines with these parameters."""
    from envs.config import restore
    from envs.control import ContextualFamily
    from envs.registry import get_task

    family = get_task(task)
    if not isinstance(family, ContextualFamily):
        raise ConfigError(
            f"task {task} has no context factors, so no splits; `report context` is for the "
            "contextual families (cartpole, mountaincar, pendulum, lunarlander)",
            field="task",
        )
    defined = restore(family.Params, dict(task_values), owner=task).defined_splits()
    return tuple(split for split in PROTOCOL if split in defined)


def queue(
    store: Store,
    settings: runs.RunSettings,
    agent_values: Mapping[str, Any],
    task_values: Mapping[str, Any] | None,
    seeds: Sequence[int],
    steps: int,
) -> list[int]:
    """Queue the missing seeds: one population where the agent has a batched form."""
    agent, task = settings.agent, settings.task
    if agent in populations.population_agents():
        population = populations.check_population(
            agent, task, agent_values=agent_values, task_values=task_values, steps=steps,
            seeds=seeds, device="cpu",
        )  # fmt: skip
        return populations.create_population(store, population, steps=steps)
    return [runs.create_run(store, settings, steps=steps, seed=seed) for seed in seeds]


def train_runs(store: Store, agent: str, ids: Sequence[int]) -> list[RunRecord]:
    if agent in populations.population_agents():
        return populations.train_foreground(store, ids)
    return [runs.train_foreground(store, run_id) for run_id in ids]


def report_json(report: ContextReport) -> dict[str, Any]:
    return {
        "agent": report.agent,
        "task": report.task,
        "task_params": report.task_params,
        "steps": report.steps,
        "seeds": list(report.seeds),
        "contexts_per_split": report.contexts,
        "trained": list(report.trained),
        "cells": [
            {
                "mode": cell.mode,
                "split": cell.split,
                "runs": list(cell.runs),
                "mean": cell.mean,
                "ci95": cell.ci95,
                "per_seed": list(cell.per_seed),
                "solved": cell.solved,
            }
            for cell in report.cells
        ],
    }
