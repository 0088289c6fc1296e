"""The task-family interface: parameters, a task distribution, and single and batched envs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from envs.config import Config
from envs.population import MemberEnvs

Task = dict[str, Any]
"""One task's parameters, e.g. ``{"probs": array([0.2, 0.7])}`` or ``{"gravity": 1.3}``."""


class TaskFamily(ABC):
    """A named distribution over tasks and the environments that play them.

    ``Params`` configures the family (arms, pulls, context ranges, split ...); ``sample``
    draws one task from it. ``make_env`` is a single gymnasium env (for meta-RL families
    one reset is one meta-episode on a freshly sampled task); ``make_vector_env`` runs many
    copies in one batched env with gymnasium's NEXT_STEP autoreset.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[Config]]

    @abstractmethod
    def sample(self, params: Config, rng: np.random.Generator) -> Task:
        """Draw one task from the family's distribution (respecting its split)."""

    @abstractmethod
    def make_env(self, params: Config) -> gym.Env:
        """One environment of this family."""

    def make_vector_env(self, params: Config, num_envs: int) -> gym.vector.VectorEnv:
        """``num_envs`` environments stepped together; families with a faster path override."""
        return gym.vector.SyncVectorEnv([lambda: self.make_env(params) for _ in range(num_envs)])

    def make_member_envs(self, params: Config, num_envs: int, members: int) -> MemberEnvs:
        """The envs of a population: ``members`` blocks of ``num_envs`` copies, block m
        behaving exactly as ``make_vector_env(params, num_envs)`` reset with member m's
        seed (envs/population.py); families with a batched form override this."""
        return MemberEnvs([self.make_vector_env(params, num_envs) for _ in range(members)])

    def budget(self, params: Config, steps: int) -> int:
        """The steps a run asked for ``steps`` trains: all of them, unless the family's
        tasks end (a continual stream is one pass over a fixed number of samples)."""
        return steps

    def describe_task(self, task: Task) -> dict[str, Any]:
        """A JSON-friendly view of a task for listings (large arrays by shape and mean)."""
        view: dict[str, Any] = {}
        for key, value in task.items():
            if isinstance(value, np.ndarray) and value.size > 12:
                view[key] = f"array{value.shape}, mean {value.mean():.3f}"
            elif isinstance(value, np.ndarray):
                view[key] = np.round(value, 4).tolist()
            else:
                view[key] = round(value, 4) if isinstance(value, float) else value
        return view
