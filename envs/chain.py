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

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.config import Config, ConfigError, bounded
from envs.family import Task, TaskFamily
from envs.population import BatchedMemberEnvs


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


class ChainVector(gym.vector.VectorEnv):
    """Many chains as arrays, in ``members`` blocks (envs/population.py): what a
    SyncVectorEnv of ``ChainEnv`` returns (tests/test_member_envs.py checks it), without
    a Python call per copy. The chain draws nothing at random, so seeds change nothing."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, params: ChainParams, num_envs: int, members: int = 1) -> None:
        self.params = params
        self.members, self.envs_per_member = members, num_envs
        self.num_envs = members * num_envs
        self.single_observation_space = ChainEnv(params).observation_space
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.state = np.zeros(self.num_envs, dtype=np.int64)
        self.prev_done = np.zeros(self.num_envs, dtype=bool)

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, self.params.length), dtype=np.float32)
        obs[np.arange(self.num_envs), self.state] = 1.0
        return obs

    def reset_members(self, seeds: Sequence[int | None]):
        self.state[:] = 0
        self.prev_done[:] = False
        return self._obs(), {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return self.reset_members([seed])

    def step(self, actions):
        p = self.params
        actions = np.asarray(actions)
        exits = actions == 0
        at_goal = ~exits & (self.state == p.length - 1)
        rewards = np.where(exits, p.exit_reward, np.where(at_goal, p.goal_reward, 0.0))
        terminated = exits | at_goal
        self.state = np.where(terminated, self.state, self.state + 1)
        # NEXT_STEP autoreset: a copy that ended in the last step restarts, ignoring its action.
        restart = self.prev_done
        self.state[restart] = 0
        rewards[restart] = 0.0
        terminated[restart] = False
        self.prev_done = terminated.copy()
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._obs(), rewards, terminated, truncated, {}


class ChainFamily(TaskFamily):
    name = "chain"
    summary = "Delayed-reward chain: walk to a distant goal or exit early for a small reward."
    Params = ChainParams

    def sample(self, params: ChainParams, rng: np.random.Generator) -> Task:
        return {"length": params.length}  # one deterministic task

    def make_env(self, params: ChainParams) -> gym.Env:
        return ChainEnv(params)

    def make_vector_env(self, params: ChainParams, num_envs: int) -> gym.vector.VectorEnv:
        return ChainVector(params, num_envs)

    def make_member_envs(
        self, params: ChainParams, num_envs: int, members: int
    ) -> BatchedMemberEnvs:
        return BatchedMemberEnvs(ChainVector(params, num_envs, members))
