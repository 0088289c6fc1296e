"""The registry of task families by name, and how to build their environments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

from envs.config import Config, ConfigError, suggest


@dataclass
class NoParams(Config):
    """A task family without parameters of its own."""


@dataclass(frozen=True)
class TaskFamily:
    """A named family of tasks: its parameters and how to build single and batched envs."""

    name: str
    summary: str
    params: type[Config]
    make_env: Callable[[Config], gym.Env]
    make_vector_env: Callable[[Config, int], gym.vector.VectorEnv]
    """Batched version: ``num_envs`` copies in one env (NEXT_STEP autoreset)."""


def _cartpole_env(params: Config) -> gym.Env:
    return gym.make("CartPole-v1")


def _cartpole_vector_env(params: Config, num_envs: int) -> gym.vector.VectorEnv:
    # gymnasium's own NumPy CartPole over many copies: same dynamics, no per-env Python loop.
    return gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")


TASKS: dict[str, TaskFamily] = {
    family.name: family
    for family in [
        TaskFamily(
            name="cartpole",
            summary="CartPole-v1: balance a pole on a cart, +1 a step, at most 500 steps.",
            params=NoParams,
            make_env=_cartpole_env,
            make_vector_env=_cartpole_vector_env,
        ),
    ]
}


def get_task(name: str) -> TaskFamily:
    """The task family called ``name``, or a ConfigError suggesting the closest names."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(
            f"unknown task {name!r}{suggest(name, TASKS)}; `workbench tasks` lists them"
        ) from None
