"""A delayed-reward chain: the textbook case where a short discount horizon fails.

States 0 .. length-1 in a row, the agent starts at 0. Action 1 advances; advancing from
the last state pays ``goal_reward`` and ends the episode. Action 0 takes ``exit_reward``
at once and ends the episode. The undiscounted optimum is to walk to the end, but under
discount gamma the goal is worth gamma**(length-1) * goal_reward at the start, so any
gamma below (exit_reward / goal_reward) ** (1 / (length-1)) prefers to exit: a myopic
agent earns ``exit_reward``, a far-sighted one ``goal_reward``. Studies of the discount
factor and meta-gradient agents use it because the best discount is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from envs.config import Config, ConfigError, bounded
from envs.family import Task, TaskFamily


@dataclass
class ChainParams(Config):
    length: int = bounded(10, 2, 1000)
    """States in the chain; the goal is length-1 advances away."""
    goal_reward: float = bounded(1.0, 0.0, low_open=True)
    """Reward for advancing past the last state."""
    exit_reward: float = bounded(0.2, 0.0)
    """Reward for exiting at any state."""

    def check(self) -> None:
        if self.exit_reward >= self.goal_reward:
            raise ConfigError(
                f"exit_reward={self.exit_reward} must be below goal_reward={self.goal_reward}, "
                "or walking to the goal is never better"
            )

    @property
    def critical_discount(self) -> float:
        """Discounts below this prefer exiting to walking to the goal."""
        return float((self.exit_reward / self.goal_reward) ** (1.0 / (self.length - 1)))


class ChainEnv(gym.Env):
    """One chain; the observation is the one-hot of the agent's state."""

    metadata = {"render_modes": []}

    def __init__(self, params: ChainParams) -> None:
        self.params = params
        self.observation_space = gym.spaces.Box(0.0, 1.0, (params.length,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.state = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.params.length, dtype=np.float32)
        obs[self.state] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = 0
        return self._obs(), {}

    def step(self, action):
        p = self.params
        if action == 0:
            return self._obs(), p.exit_reward, True, False, {}
        if self.state == p.length - 1:
            return self._obs(), p.goal_reward, True, False, {}
        self.state += 1
        return self._obs(), 0.0, False, False, {}


class ChainFamily(TaskFamily):
    name = "chain"
    summary = "Delayed-reward chain: walk to a distant goal or exit early for a small reward."
    Params = ChainParams

    def sample(self, params: ChainParams, rng: np.random.Generator) -> Task:
        return {"length": params.length}  # one deterministic task

    def make_env(self, params: ChainParams) -> gym.Env:
        return ChainEnv(params)
