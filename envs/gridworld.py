"""VariBAD's gridworld (Zintgraf et al. 2020, "GridNavi"): find a hidden goal, then stay.

A ``size`` x ``size`` grid; every episode starts in the corner (0, 0); the goal is drawn
uniformly from the cells that are neither the start nor next to it (diagonals included:
21 cells on the 5x5 grid). Five actions: stay, up, right, down, left (a move into the
wall stays put). Arriving in (or staying on) the goal pays ``goal_reward``, any other
step ``step_reward``. A meta-episode is ``episodes`` episodes of ``episode_length`` steps
with the goal fixed, so a learner searches in the first and walks straight there after.

The agent observes its cell one-hot (VariBAD's code gives the (x, y) coordinates to a
learned embedding; a one-hot cell is the same information without the embedding).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from envs.config import Config, ConfigError, bounded
from envs.family import Task, TaskFamily
from envs.meta import BatchedMetaEpisodes, MetaEpisodeEnv

ACTIONS = ("stay", "up", "right", "down", "left")
MOVES = np.array([(0, 0), (0, 1), (1, 0), (0, -1), (-1, 0)])
"""(dx, dy) of each action; a cell is ``x + size * y`` and the start is (0, 0)."""


@dataclass
class GridworldParams(Config):
    size: int = bounded(5, 3, 32)
    """Cells along each side of the square grid."""
    episode_length: int = bounded(15, 1, 10_000)
    """Steps per episode (trial)."""
    episodes: int = bounded(4, 1, 1000)
    """Episodes per meta-episode (one goal)."""
    goal_reward: float = 1.0
    """Reward of a step that ends on the goal."""
    step_reward: float = -0.1
    """Reward of every other step."""

    def check(self) -> None:
        if self.goal_reward <= self.step_reward:
            raise ConfigError(
                f"goal_reward={self.goal_reward} must exceed step_reward={self.step_reward}"
            )


def goal_cells(size: int) -> np.ndarray:
    """Cells a goal may be in: all but the start corner and its (diagonal) neighbours."""
    x, y = np.arange(size * size) % size, np.arange(size * size) // size
    return np.flatnonzero((x > 1) | (y > 1))


def move(cells: np.ndarray, actions: np.ndarray, size: int) -> np.ndarray:
    """The cells reached from ``cells`` by ``actions``, walls included."""
    x = np.clip(cells % size + MOVES[actions, 0], 0, size - 1)
    y = np.clip(cells // size + MOVES[actions, 1], 0, size - 1)
    return x + size * y


def distance(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """Steps between cells (Manhattan distance)."""
    return np.abs(a % size - b % size) + np.abs(a // size - b // size)


class GridworldTrial(gym.Env):
    """One episode on a gridworld with a set goal: one-hot cell, fixed length."""

    def __init__(self, params: GridworldParams) -> None:
        self.params = params
        self.episode_length = params.episode_length
        self.reward_bounds = (params.step_reward, params.goal_reward)
        cells = params.size * params.size
        self.observation_space = gym.spaces.Box(0.0, 1.0, (cells,), np.float32)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self.goal = int(goal_cells(params.size)[-1])

    def set_task(self, task: Task) -> None:
        self.goal = int(task["goal"])

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        obs[self.cell] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.cell, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.cell = int(move(np.array([self.cell]), np.array([action]), self.params.size)[0])
        self.t += 1
        p = self.params
        reward = p.goal_reward if self.cell == self.goal else p.step_reward
        return self._obs(), float(reward), False, self.t == self.episode_length, {}


class GridworldBatch:
    """``num_tasks`` gridworlds stepped together (the ``TaskBatch`` of envs/meta.py)."""

    num_actions = len(ACTIONS)

    def __init__(self, params: GridworldParams, num_tasks: int) -> None:
        self.params, self.num_tasks = params, num_tasks
        self.observation_size = params.size * params.size
        self.episode_length = params.episode_length
        self._rows = np.arange(num_tasks)
        self.cells = np.zeros(num_tasks, dtype=np.int64)
        self.goals = np.full(num_tasks, goal_cells(params.size)[-1])

    def sample_tasks(self, rng: np.random.Generator) -> None:
        self.goals = rng.choice(goal_cells(self.params.size), self.num_tasks)

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_tasks, self.observation_size), dtype=np.float32)
        obs[self._rows, self.cells] = 1.0
        return obs

    def reset_trial(self, rng: np.random.Generator) -> np.ndarray:
        self.cells[:] = 0
        return self._obs()

    def step(self, actions: np.ndarray, rng: np.random.Generator):
        self.cells = move(self.cells, np.asarray(actions), self.params.size)
        p = self.params
        rewards = np.where(self.cells == self.goals, p.goal_reward, p.step_reward)
        return self._obs(), rewards.astype(np.float32)


class GridworldFamily(TaskFamily):
    name = "gridworld"
    summary = "VariBAD's 5x5 gridworld: find a hidden goal, 4 episodes of 15 steps per goal."
    Params = GridworldParams
    trials_field = "episodes"

    def trials(self, params: GridworldParams) -> int:
        return params.episodes

    def sample(self, params: GridworldParams, rng: np.random.Generator) -> Task:
        return {"goal": int(rng.choice(goal_cells(params.size)))}

    def make_env(self, params: GridworldParams) -> gym.Env:
        return MetaEpisodeEnv(
            GridworldTrial(params), lambda rng: self.sample(params, rng), params.episodes
        )

    def batch(self, params: GridworldParams, num_tasks: int) -> GridworldBatch:
        return GridworldBatch(params, num_tasks)

    def meta_batch(
        self, params: GridworldParams, num_tasks: int, rng: np.random.Generator
    ) -> BatchedMetaEpisodes:
        return BatchedMetaEpisodes(self.batch(params, num_tasks), params.episodes, rng)
