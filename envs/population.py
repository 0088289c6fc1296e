"""The environments of a population: P members, each with its own ``n`` copies of a task's
env, stepped as one batch of ``P * n``.

Contract (what makes a population member compute exactly what a lone run computes): the
block of member m (copies ``m*n .. m*n+n-1``) returns, step for step, what
``family.make_vector_env(params, n)`` returns after ``reset(seed=seeds[m])``, whatever the
other members do. A member's randomness (initial states, autoresets, resampled
contexts) comes from its own generator, never from a shared one.

``MemberEnvs`` is the generic form: P vector envs stepped one after another and
concatenated. Families with a batched NumPy form make one env of ``P * n`` copies
instead (``TaskFamily.make_member_envs``), which is what makes P members cheap: a
``MemberBatch`` whose ``reset_members(seeds)`` gives each block its own generators,
seeded as the lone env's ``reset(seed=...)`` seeds its own, wrapped in
``BatchedMemberEnvs``. The lone vector env of such a family is the same class with one
block, so the lone and the member paths run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding


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
        observations = [
            env.reset(seed=int(seed))[0] for env, seed in zip(self.envs, seeds, strict=True)
        ]
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


class MemberBatch(Protocol):
    """A NumPy vector env of ``members`` blocks of ``envs_per_member`` copies."""

    members: int
    envs_per_member: int
    num_envs: int
    single_observation_space: gym.Space
    single_action_space: gym.Space

    def reset_members(self, seeds: Sequence[int | None]) -> tuple[np.ndarray, dict[str, Any]]: ...

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]: ...

    def close(self) -> None: ...


class BatchedMemberEnvs(MemberEnvs):
    """The members of a population as the blocks of one ``MemberBatch``."""

    def __init__(self, env: MemberBatch) -> None:
        self.env = env
        self.envs = []  # no per-member envs: one batch holds every block
        self.members = env.members
        self.envs_per_member = env.envs_per_member
        self.num_envs = env.num_envs
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space

    def reset(self, seeds: Sequence[int]) -> tuple[np.ndarray, dict[str, Any]]:
        if len(seeds) != self.members:
            raise ValueError(f"{len(seeds)} seeds for {self.members} members")
        observations, _ = self.env.reset_members([int(seed) for seed in seeds])
        return observations, {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        observations, rewards, terminated, truncated, _ = self.env.step(actions)
        return observations, rewards, terminated, truncated, {}

    def close(self) -> None:
        self.env.close()


def reseed(
    generators: Sequence[np.random.Generator] | None, seeds: Sequence[int | None]
) -> list[np.random.Generator]:
    """One generator per seed, as gymnasium's ``reset(seed=...)`` makes them: a seed gives
    a fresh generator (``seeding.np_random``, so the draws are gymnasium's own), None
    keeps the one there, or makes an unseeded one the first time."""
    kept = list(generators) if generators else [None] * len(seeds)
    return [
        seeding.np_random(seed)[0] if seed is not None or old is None else old
        for old, seed in zip(kept, seeds, strict=True)
    ]
