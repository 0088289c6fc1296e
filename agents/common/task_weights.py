"""Task weight vectors of successor-feature agents (agents/sf_gpi.py): parsing the base
tasks, and the checks that a config fits a task and a budget, made before a run exists
(the registry's ``check_run``) and again when it learns.

A task is a weight vector w over the cumulants phi the env reports: r = w . phi. These
are pure functions of the config's text fields and the task's parameters, kept apart from
the agent so the registry and the studies can check a config without building one.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from envs.config import Config, ConfigError

TASK_WEIGHTS = ("given", "regressed")


class TaskWeightSettings(Protocol):
    """The config fields these checks read (SFGPIConfig's)."""

    base_tasks: str
    task_weights: str
    pretrain_steps: int


def parse_base_tasks(text: str, length: int | None = None) -> np.ndarray:
    """The base tasks ``[policies, d]`` of a text like "1,0;0,1"; ConfigError (one line)
    when it does not parse or, given ``length``, a vector is not that long."""
    example = "e.g. base_tasks=1,0;0,1"
    try:
        vectors = [[float(x) for x in part.split(",")] for part in text.split(";")]
    except ValueError:
        raise ConfigError(
            f"base_tasks={text!r} does not parse: give weight vectors separated by ';', "
            f"each a comma-separated list of numbers, {example}",
            field="base_tasks",
        ) from None
    lengths = sorted({len(vector) for vector in vectors})
    if len(lengths) > 1:
        raise ConfigError(
            f"base_tasks={text!r} has vectors of lengths {', '.join(map(str, lengths))}: "
            f"every vector needs one weight per cumulant, {example}",
            field="base_tasks",
        )
    tasks = np.array(vectors, dtype=np.float64)
    if not np.isfinite(tasks).all():
        raise ConfigError(f"base_tasks={text!r} has a non-finite weight", field="base_tasks")
    if length is not None and lengths[0] != length:
        raise ConfigError(
            f"base_tasks={text!r} has vectors of length {lengths[0]}, but the task has "
            f"{length} cumulants (object types): give {length} weights per vector",
            field="base_tasks",
        )
    return tasks


def check_task_params(
    config: TaskWeightSettings, task_params: Config
) -> tuple[np.ndarray, np.ndarray]:
    """The target task's w ``[d]`` and the base tasks ``[policies, d]`` of a task (its
    ``weight_vector()``: scavenger's), or a one-line ConfigError when the config does not
    fit the task: base tasks of another length than w, or given weights of a reward that
    is not linear in phi."""
    reward = getattr(task_params, "reward", "linear")
    if config.task_weights == "given" and reward != "linear":
        raise ConfigError(
            f"task_weights=given needs a reward linear in phi, but the task's reward is "
            f"{reward}: use --task-set reward=linear, or --set task_weights=regressed to fit "
            "w to the rewards",
            field="task_weights",
        )
    target = np.asarray(task_params.weight_vector(), dtype=np.float64)  # type: ignore[attr-defined]
    return target, parse_base_tasks(config.base_tasks, len(target))


def check_run(config: TaskWeightSettings, task_params: Config, steps: int) -> None:
    """The config fits the task (``check_task_params``) and the budget has a target phase:
    the registry's check before a run is created, and ``learn``'s."""
    check_task_params(config, task_params)
    if steps <= config.pretrain_steps:
        raise ConfigError(
            f"a budget of {steps} env steps leaves no target phase after "
            f"pretrain_steps={config.pretrain_steps}: give more steps or lower pretrain_steps",
            field="pretrain_steps",
        )


def ridge_weights(gram: np.ndarray, moments: np.ndarray, ridges: np.ndarray) -> np.ndarray:
    """w-hat ``[P, d]`` by ridge least squares from each member's sufficient statistics
    sum phi phi^T ``[P, d, d]`` and sum phi r ``[P, d]``, with its penalty ``[P]``."""
    penalty = np.asarray(ridges, dtype=np.float64)[:, None, None] * np.eye(gram.shape[-1])
    # The pseudo-inverse: with ridge=0, a type never collected gets weight 0.
    return (np.linalg.pinv(gram + penalty) @ moments[:, :, None])[:, :, 0]
