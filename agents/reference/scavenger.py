"""Reference policies for the scavenger task (envs/scavenger.py): yardsticks that see the
arena's true state and head for an object by the shortest path.

The walls on row 0 and column 0 cut every wrap-around, so the shortest path to a cell is
the Manhattan distance inside the room. Every policy but ``random`` walks to the nearest
wanted object (ties: the lowest cell index), and of the one or two moves that bring it
closer, prefers one that does not step on an unwanted object.
"""

from __future__ import annotations

import numpy as np

from envs.config import Config
from envs.scavenger import ScavengerEnvs, ScavengerParams


class NotForThisReward(Exception):
    """The policy is built for the other reward (linear or balanced)."""


class ScavengerPolicy:
    """Acts on every copy of a ``ScavengerEnvs`` from its state."""

    Config = Config
    rewards: tuple[str, ...] = ("linear", "balanced")

    def __init__(self, config: Config, params: ScavengerParams) -> None:
        if params.reward not in self.rewards:
            raise NotForThisReward(f"built for reward={' or '.join(self.rewards)}")
        self.config, self.params = config, params

    def wanted(self, envs: ScavengerEnvs) -> np.ndarray:
        """``[E, types]``: the object types this policy collects in each copy."""
        return np.ones((envs.num_envs, self.params.object_types), dtype=bool)

    def act(self, envs: ScavengerEnvs, rng: np.random.Generator) -> np.ndarray:
        size = self.params.size
        wanted = self.wanted(envs)
        grid = envs.grid.astype(np.int64)
        copies = np.arange(envs.num_envs)[:, None, None]
        is_wanted = (grid >= 0) & wanted[copies, np.maximum(grid, 0)]
        unwanted = (grid >= 0) & ~is_wanted
        axis = np.arange(size)
        row, col = envs.position[:, 0], envs.position[:, 1]
        distance = np.abs(axis[None, :, None] - row[:, None, None]) + np.abs(
            axis[None, None, :] - col[:, None, None]
        )
        distance = np.where(is_wanted, distance, np.iinfo(np.int64).max).reshape(envs.num_envs, -1)
        target = distance.argmin(axis=1)
        has_target = is_wanted.reshape(envs.num_envs, -1).any(axis=1)
        dx = target // size - row
        dy = target % size - col
        x_move = np.where(dx > 0, 3, 2)
        y_move = np.where(dy > 0, 0, 1)
        x_lands = unwanted[np.arange(envs.num_envs), row + np.sign(dx), col]
        y_lands = unwanted[np.arange(envs.num_envs), row, col + np.sign(dy)]
        use_x = (dx != 0) & ((dy == 0) | ~x_lands | y_lands)
        actions = np.where(use_x, x_move, y_move)
        wander = rng.integers(0, 4, envs.num_envs)
        return np.where(has_target, actions, wander)


class RandomScavenger(ScavengerPolicy):
    def act(self, envs: ScavengerEnvs, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, 4, envs.num_envs)


class NearestObject(ScavengerPolicy):
    """The nearest object of any type."""


class NearestPositive(ScavengerPolicy):
    """The nearest object whose type has a positive weight (linear reward)."""

    rewards = ("linear",)

    def wanted(self, envs: ScavengerEnvs) -> np.ndarray:
        positive = self.params.weight_vector() > 0
        return np.broadcast_to(positive, (envs.num_envs, len(positive)))


class BalanceAware(ScavengerPolicy):
    """The nearest object of a type that is now the most abundant (balanced reward)."""

    rewards = ("balanced",)

    def wanted(self, envs: ScavengerEnvs) -> np.ndarray:
        return envs.counts == envs.counts.max(axis=1, keepdims=True)


def play_scavenger(
    params: ScavengerParams, policy: ScavengerPolicy, episodes: int, rng: np.random.Generator
) -> np.ndarray:
    """Undiscounted return of one episode on each of ``episodes`` layouts, ``[1, episodes]``
    (one trial per task, the shape the other families' tables use)."""
    envs = ScavengerEnvs(params, episodes)
    envs.reset([int(rng.integers(2**31))])
    totals = np.zeros(episodes)
    for _ in range(params.episode_length):
        _, rewards, *_ = envs.step(policy.act(envs, rng))
        totals += rewards
    return totals[None, :]
