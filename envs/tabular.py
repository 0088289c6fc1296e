"""Random tabular MDPs as in RL^2 (Duan et al. 2016): transitions from a flat Dirichlet,
rewards Normal(mu, 1) with mu ~ Normal(1, 1) per state-action; every trial is an episode of
fixed length starting in state 0; a meta-episode is ``episodes`` trials of one MDP.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from envs.config import Config, bounded
from envs.family import Task, TaskFamily
from envs.meta import BatchedMetaEpisodes, MetaEpisodeEnv


@dataclass
class TabularMDPParams(Config):
    states: int = bounded(10, 1, 1000)
    """Number of states (observed one-hot)."""
    actions: int = bounded(5, 1, 100)
    """Number of actions."""
    episode_length: int = bounded(10, 1, 10_000)
    """Steps per episode (trial)."""
    episodes: int = bounded(10, 1, 10_000)
    """Episodes per meta-episode (one MDP)."""
    reward_mean: float = 1.0
    """Mean of the Normal prior over each state-action's mean reward."""
    reward_mean_std: float = bounded(1.0, 0.0)
    """Standard deviation of that prior."""
    reward_noise: float = bounded(1.0, 0.0)
    """Standard deviation of a reward around its state-action mean."""
    dirichlet: float = bounded(1.0, 0.0, low_open=True)
    """Concentration of the symmetric Dirichlet over next states (1 is flat)."""


def sample_mdps(params: TabularMDPParams, rng: np.random.Generator, n: int) -> Task:
    """``n`` MDPs: transitions (n, S, A, S) and mean rewards (n, S, A)."""
    shape = (n, params.states, params.actions)
    # A Dirichlet sample is a normalised vector of Gamma(alpha) draws.
    gamma = rng.gamma(params.dirichlet, size=(*shape, params.states))
    transitions = gamma / gamma.sum(axis=-1, keepdims=True)
    rewards = rng.normal(params.reward_mean, params.reward_mean_std, size=shape)
    return {"transitions": transitions, "rewards": rewards}


class TabularMDPTrial(gym.Env):
    """One episode of a tabular MDP: one-hot state, Normal rewards, fixed length."""

    reward_bounds = (-np.inf, np.inf)  # Normal rewards have no bound

    def __init__(self, params: TabularMDPParams) -> None:
        self.params = params
        self.episode_length = params.episode_length
        self.observation_space = gym.spaces.Box(0.0, 1.0, (params.states,), np.float32)
        self.action_space = gym.spaces.Discrete(params.actions)
        self.set_task(
            {k: v[0] for k, v in sample_mdps(params, np.random.default_rng(0), 1).items()}
        )

    def set_task(self, task: Task) -> None:
        self.transitions, self.rewards = task["transitions"], task["rewards"]

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.params.states, dtype=np.float32)
        obs[self.state] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        mean = self.rewards[self.state, action]
        reward = float(self.np_random.normal(mean, self.params.reward_noise))
        self.state = int(
            self.np_random.choice(self.params.states, p=self.transitions[self.state, action])
        )
        self.t += 1
        return self._obs(), reward, self.t == self.episode_length, False, {}


class TabularMDPBatch:
    """``num_tasks`` MDPs stepped together; next states by inverse-CDF sampling."""

    def __init__(self, params: TabularMDPParams, num_tasks: int) -> None:
        self.params, self.num_tasks = params, num_tasks
        self.num_actions = params.actions
        self.observation_size = params.states
        self.episode_length = params.episode_length
        self._rows = np.arange(num_tasks)
        self.states = np.zeros(num_tasks, dtype=np.int64)

    def sample_tasks(self, rng: np.random.Generator) -> None:
        task = sample_mdps(self.params, rng, self.num_tasks)
        self.transitions, self.rewards = task["transitions"], task["rewards"]
        self._cumulative = np.cumsum(self.transitions, axis=-1)
        self._cumulative[..., -1] = 1.0  # no draw falls past the last state by rounding

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_tasks, self.params.states), dtype=np.float32)
        obs[self._rows, self.states] = 1.0
        return obs

    def reset_trial(self, rng: np.random.Generator) -> np.ndarray:
        self.states[:] = 0
        return self._obs()

    def step(self, actions: np.ndarray, rng: np.random.Generator):
        means = self.rewards[self._rows, self.states, actions]
        rewards = (means + self.params.reward_noise * rng.standard_normal(self.num_tasks)).astype(
            np.float32
        )
        cdf = self._cumulative[self._rows, self.states, actions]
        self.states = (cdf < rng.random((self.num_tasks, 1))).sum(axis=1)
        return self._obs(), rewards


class TabularMDPFamily(TaskFamily):
    name = "tabular-mdp"
    summary = "Random tabular MDPs: Dirichlet transitions, Normal rewards (RL^2)."
    Params = TabularMDPParams
    trials_field = "episodes"

    def trials(self, params: TabularMDPParams) -> int:
        return params.episodes

    def sample(self, params: TabularMDPParams, rng: np.random.Generator) -> Task:
        return {key: value[0] for key, value in sample_mdps(params, rng, 1).items()}

    def make_env(self, params: TabularMDPParams) -> gym.Env:
        return MetaEpisodeEnv(
            TabularMDPTrial(params), lambda rng: self.sample(params, rng), params.episodes
        )

    def batch(self, params: TabularMDPParams, num_tasks: int) -> TabularMDPBatch:
        return TabularMDPBatch(params, num_tasks)

    def meta_batch(
        self, params: TabularMDPParams, num_tasks: int, rng: np.random.Generator
    ) -> BatchedMetaEpisodes:
        return BatchedMetaEpisodes(self.batch(params, num_tasks), params.episodes, rng)
