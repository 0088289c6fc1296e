"""The environments of a population: P members, each with its own ``n`` copies of a task's
env, stepped as one batch of ``P * n``.

Contract (what makes a population member compute exactly what a lone run computes): the
block of member m (copies ``m*n .. m*n+n-1``) returns, step for step, what
``family.make_vector_env(params, n)`` returns after ``reset(seed=seeds[m])``, whatever the
other members do. A member's randomness (initial states, autoresets, resampled
contexts) comes from its own generator, never from a shared one.

``MemberEnvs`` is the generic form: P vector envs stepped one after another and
concatenated. Families with a batched NumPy form make one env of ``P * n`` copies
instead (``TaskFamily.make_member_envs``), which is what makes P members cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np


class MemberEnvs:
    """P members' vector envs of ``envs_per_member`` copies each, as one batch (NEXT_STEP
    autoreset, like gymnasium's vector envs)."""

    def __init__(self, envs: Sequence[gym.vector.VectorEnv]) -> None:
        self.envs = list(envs)
        self.members = len(self.envs)
        self.envs_per_member = self.envs[0].num_envs
        self.num_envs = self.members * self.envs_per_member
        self.single_observation_space = self.envs[0].single_observation_space
        self.single_action_space = self.envs[0].single_action_space

    def reset(self, seeds: Sequence[int]) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset member m's envs with ``seeds[m]``; observations ``[P * n, ...]``."""
        if len(seeds) != self.members:
            raise ValueError(f"{len(seeds)} seeds for {self.members} members")
        observations = [env.reset(seed=int(seed))[0] for env, seed in zip(self.envs, seeds)]
        return np.concatenate(observations), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        n = self.envs_per_member
        results = [env.step(actions[m * n : (m + 1) * n]) for m, env in enumerate(self.envs)]
        observations, rewards, terminated, truncated = (
            np.concatenate([result[i] for result in results]) for i in range(4)
        )
        return observations, rewards, terminated, truncated, {}

    def close(self) -> None:
        for env in self.envs:
            env.close()
