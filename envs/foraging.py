"""A foraging gridworld for successor features (Barreto et al. 2017; the option keyboard).

Items of several types lie on a grid; walking onto one collects it, yields the cumulant
vector phi (one-hot of its type, in ``info["phi"]``) and the reward w . phi for the task
vector w, and the item reappears on a random free cell. Tasks fix w or sample it.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from envs.config import Config, ConfigError, bounded, parse_numbers
from envs.family import Task, TaskFamily

MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])  # up, down, left, right


def parse_weights(text: str, item_types: int) -> np.ndarray | None:
    numbers = parse_numbers(text, item_types, "weights", "item type")
    return None if numbers is None else np.array(numbers)


@dataclass
class ForagingParams(Config):
    size: int = bounded(7, 3, 30)
    """Side of the square grid."""
    item_types: int = bounded(3, 1, 10)
    """Kinds of items; phi has one entry per kind."""
    items_per_type: int = bounded(2, 1, 20)
    """Items of each kind on the grid at any time."""
    episode_length: int = bounded(50, 1, 10_000)
    """Steps per episode."""
    weights: str = ""
    """Fixed task vector w, comma-separated, one per item type; empty samples w ~ U[-1, 1]."""
    visible_task: bool = False
    """Append w to the observation."""

    def check(self) -> None:
        parse_weights(self.weights, self.item_types)
        if self.item_types * self.items_per_type >= self.size * self.size:
            raise ConfigError(
                f"{self.item_types * self.items_per_type} items do not fit on a "
                f"{self.size}x{self.size} grid with the agent; lower items_per_type or raise size"
            )


class ForagingEnv(gym.Env):
    """The gridworld; the observation is one plane per item type plus the agent's plane."""

    metadata = {"render_modes": []}

    def __init__(self, params: ForagingParams, sample_task) -> None:
        self.params, self.sample_task = params, sample_task
        planes = (params.item_types + 1) * params.size * params.size
        extra = params.item_types if params.visible_task else 0
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (planes + extra,), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.weights = np.zeros(params.item_types)

    def _free_cell(self) -> np.ndarray:
        size = self.params.size
        while True:
            cell = self.np_random.integers(0, size, 2)
            if self.grid[cell[0], cell[1]] < 0 and not (cell == self.agent).all():
                return cell

    def _obs(self) -> np.ndarray:
        p = self.params
        planes = np.zeros((p.item_types + 1, p.size, p.size), dtype=np.float32)
        rows, cols = np.nonzero(self.grid >= 0)
        planes[self.grid[rows, cols], rows, cols] = 1.0
        planes[p.item_types, self.agent[0], self.agent[1]] = 1.0
        obs = planes.ravel()
        if p.visible_task:
            obs = np.concatenate([obs, self.weights.astype(np.float32)])
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.weights = np.asarray(self.sample_task(self.np_random)["weights"], dtype=float)
        p = self.params
        self.grid = np.full((p.size, p.size), -1, dtype=np.int64)  # item type or -1
        self.agent = self.np_random.integers(0, p.size, 2)
        for kind in range(p.item_types):
            for _ in range(p.items_per_type):
                cell = self._free_cell()
                self.grid[cell[0], cell[1]] = kind
        self.t = 0
        return self._obs(), {"phi": np.zeros(p.item_types), "weights": self.weights.copy()}

    def step(self, action):
        p = self.params
        self.agent = np.clip(self.agent + MOVES[action], 0, p.size - 1)
        phi = np.zeros(p.item_types)
        kind = self.grid[self.agent[0], self.agent[1]]
        if kind >= 0:
            phi[kind] = 1.0
            self.grid[self.agent[0], self.agent[1]] = -1
            cell = self._free_cell()
            self.grid[cell[0], cell[1]] = kind
        self.t += 1
        reward = float(self.weights @ phi)
        truncated = self.t >= p.episode_length
        return self._obs(), reward, False, truncated, {"phi": phi, "weights": self.weights.copy()}


class ForagingFamily(TaskFamily):
    name = "foraging"
    summary = "Gridworld of item types; reward w . phi for a task vector w (successor features)."
    Params = ForagingParams

    def sample(self, params: ForagingParams, rng: np.random.Generator) -> Task:
        fixed = parse_weights(params.weights, params.item_types)
        weights = fixed if fixed is not None else rng.uniform(-1.0, 1.0, params.item_types)
        return {"weights": weights}

    def make_env(self, params: ForagingParams) -> gym.Env:
        return ForagingEnv(params, lambda rng: self.sample(params, rng))
