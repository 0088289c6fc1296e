"""Meta-episodes (RL^2, Duan et al. 2016; Wang et al. 2016): one task, several trials.

A meta-episode samples a task, then plays ``trials`` episodes of it with the agent's
memory kept. The observation is the base observation extended with the previous action
(one-hot), the previous reward, whether the previous step ended a trial, and the time
step normalised by the meta-episode's length. Two versions with the same semantics:
``MetaEpisodeEnv`` (one gymnasium env) and ``BatchedMetaEpisodes`` (many tasks in NumPy,
meta-episodes aligned in time because every trial of these families has a fixed length).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from envs.family import Task


def meta_features_size(num_actions: int) -> int:
    return num_actions + 3


class TaskEnv(Protocol):
    """A base env whose task can be set; its trials last ``episode_length`` steps."""

    episode_length: int
    reward_bounds: tuple[float, float]
    observation_space: gym.spaces.Box
    action_space: gym.spaces.Discrete

    def set_task(self, task: Task) -> None: ...


class MetaEpisodeEnv(gym.Env):
    """One gymnasium env whose episode is a whole meta-episode on a freshly sampled task."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self, base: gym.Env, sample_task: Callable[[np.random.Generator], Task], trials: int
    ) -> None:
        self.base = base
        self.sample_task = sample_task
        self.trials = trials
        self.num_actions = int(base.action_space.n)
        self.horizon = trials * base.episode_length
        low_reward, high_reward = base.reward_bounds
        features_low = [0.0] * self.num_actions + [low_reward, 0.0, 0.0]
        features_high = [1.0] * self.num_actions + [high_reward, 1.0, 1.0]
        self.observation_space = gym.spaces.Box(
            np.concatenate([base.observation_space.low, features_low]).astype(np.float32),
            np.concatenate([base.observation_space.high, features_high]).astype(np.float32),
            dtype=np.float32,
        )
        self.action_space = gym.spaces.Discrete(self.num_actions)
        self.task: Task = {}

    def _observation(self, base_obs, action, reward, trial_done) -> np.ndarray:
        features = np.zeros(meta_features_size(self.num_actions), dtype=np.float32)
        if action is not None:
            features[action] = 1.0
        features[self.num_actions] = reward
        features[self.num_actions + 1] = float(trial_done)
        features[self.num_actions + 2] = self.t / self.horizon
        return np.concatenate([np.asarray(base_obs, dtype=np.float32), features])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.task = self.sample_task(self.np_random)
        self.base.set_task(self.task)
        base_obs, info = self.base.reset(seed=int(self.np_random.integers(2**31)))
        self.t, self.trials_done = 0, 0
        return self._observation(base_obs, None, 0.0, False), info

    def step(self, action):
        base_obs, reward, terminated, truncated, info = self.base.step(action)
        self.t += 1
        trial_done = terminated or truncated
        if trial_done:
            self.trials_done += 1
            if self.trials_done < self.trials:
                base_obs, _ = self.base.reset()
        meta_done = self.trials_done == self.trials
        obs = self._observation(base_obs, int(action), float(reward), trial_done)
        return obs, float(reward), meta_done, False, info


class TaskBatch(Protocol):
    """Many tasks of one family in arrays: the batched fast path behind a family."""

    num_tasks: int
    num_actions: int
    observation_size: int
    episode_length: int

    def sample_tasks(self, rng: np.random.Generator) -> None: ...

    def reset_trial(self, rng: np.random.Generator) -> np.ndarray: ...

    def step(
        self, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]: ...


class BatchedMetaEpisodes:
    """Meta-episodes on ``batch.num_tasks`` tasks at once, with the same observations."""

    def __init__(self, batch: TaskBatch, trials: int, rng: np.random.Generator) -> None:
        self.batch, self.trials, self.rng = batch, trials, rng
        self.num_tasks, self.num_actions = batch.num_tasks, batch.num_actions
        self.horizon = trials * batch.episode_length
        self.observation_size = batch.observation_size + meta_features_size(batch.num_actions)
        self._rows = np.arange(self.num_tasks)

    def _observations(self, base_obs, actions, rewards, trial_done: bool) -> np.ndarray:
        obs = np.zeros((self.num_tasks, self.observation_size), dtype=np.float32)
        width = self.batch.observation_size
        obs[:, :width] = base_obs
        if actions is not None:
            obs[self._rows, width + actions] = 1.0
            obs[:, width + self.num_actions] = rewards
        obs[:, width + self.num_actions + 1] = float(trial_done)
        obs[:, width + self.num_actions + 2] = self.t / self.horizon
        return obs

    def reset(self) -> np.ndarray:
        """New tasks for every slot; the first observation of their meta-episodes."""
        self.batch.sample_tasks(self.rng)
        self.t = 0
        return self._observations(self.batch.reset_trial(self.rng), None, None, False)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, bool]:
        """Returns (observations, rewards, trial_done, meta_episode_done); ``arrived`` is
        then the base observation the step reached (before a trial's reset replaces it),
        the state a reward was earned in."""
        base_obs, rewards = self.batch.step(actions, self.rng)
        self.arrived = base_obs
        self.t += 1
        trial_done = self.t % self.batch.episode_length == 0
        meta_done = self.t == self.horizon
        if trial_done and not meta_done:
            base_obs = self.batch.reset_trial(self.rng)
        return (
            self._observations(base_obs, actions, rewards, trial_done),
            rewards,
            trial_done,
            (meta_done),
        )
