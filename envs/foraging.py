"""A foraging gridworld for successor features (Barreto et al. 2017; the option keyboard).

Items of several types lie on a grid; walking onto one collects it, yields the cumulant
vector phi (one-hot of its type, in ``info["phi"]``) and the reward w . phi for the task
vector w, and the item reappears on a random free cell. Tasks fix w or sample it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.config import Config, ConfigError, bounded, parse_numbers
from envs.family import Task, TaskFamily
from envs.population import BatchedMemberEnvs, reseed

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


class ForagingVector(gym.vector.VectorEnv):
    """Many gridworlds as arrays, in ``members`` blocks (envs/population.py): what a
    SyncVectorEnv of ``ForagingEnv`` returns, RNG draw for RNG draw (tests/test_member_envs.py
    checks it, infos included). Each copy keeps its own generator, seeded as the
    SyncVectorEnv seeds its copies (block seed + copy index), and draws from it in
    ``ForagingEnv``'s order; only those draws (task, starting cells, the cell a collected
    item reappears on) loop over copies, and only over the copies that need them. Moves,
    collection, rewards and observations are array operations over all copies."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self, params: ForagingParams, sample_task, num_envs: int, members: int = 1
    ) -> None:
        self.params, self.sample_task = params, sample_task
        self.members, self.envs_per_member = members, num_envs
        self.num_envs = count = members * num_envs
        self.single_observation_space = ForagingEnv(params, sample_task).observation_space
        self.single_action_space = gym.spaces.Discrete(4)
        self.observation_space = batch_space(self.single_observation_space, count)
        self.action_space = batch_space(self.single_action_space, count)
        self.generators: list[np.random.Generator] = []
        size = params.size
        self.grid = np.full((count, size, size), -1, dtype=np.int64)  # item type or -1
        self.agent = np.zeros((count, 2), dtype=np.int64)
        self.weights = np.zeros((count, params.item_types))
        self.t = np.zeros(count, dtype=np.int64)
        self.prev_done = np.zeros(count, dtype=bool)

    def _free_cell(self, copy: int) -> np.ndarray:
        rng, size = self.generators[copy], self.params.size
        while True:
            cell = rng.integers(0, size, 2)
            if self.grid[copy, cell[0], cell[1]] < 0 and not (cell == self.agent[copy]).all():
                return cell

    def _reset_copy(self, copy: int) -> None:
        p, rng = self.params, self.generators[copy]
        self.weights[copy] = self.sample_task(rng)["weights"]
        self.grid[copy] = -1
        self.agent[copy] = rng.integers(0, p.size, 2)
        for kind in range(p.item_types):
            for _ in range(p.items_per_type):
                cell = self._free_cell(copy)
                self.grid[copy, cell[0], cell[1]] = kind
        self.t[copy] = 0

    def _obs(self) -> np.ndarray:
        p, copies = self.params, np.arange(self.num_envs)
        planes = np.zeros((self.num_envs, p.item_types + 1, p.size, p.size), dtype=np.float32)
        which, rows, cols = np.nonzero(self.grid >= 0)
        planes[which, self.grid[which, rows, cols], rows, cols] = 1.0
        planes[copies, p.item_types, self.agent[:, 0], self.agent[:, 1]] = 1.0
        obs = planes.reshape(self.num_envs, -1)
        if p.visible_task:
            obs = np.concatenate([obs, self.weights.astype(np.float32)], axis=1)
        return obs

    def _info(self, phi: np.ndarray) -> dict[str, np.ndarray]:
        """A SyncVectorEnv's infos: each key batched, with its mask of copies that set it."""
        every = np.ones(self.num_envs, dtype=bool)
        return {"phi": phi, "_phi": every, "weights": self.weights.copy(), "_weights": every}

    def reset_members(self, seeds: Sequence[int | None]):
        n = self.envs_per_member
        copy_seeds = [None if seed is None else seed + i for seed in seeds for i in range(n)]
        self.generators = reseed(self.generators, copy_seeds)
        for copy in range(self.num_envs):
            self._reset_copy(copy)
        self.prev_done[:] = False
        return self._obs(), self._info(np.zeros((self.num_envs, self.params.item_types)))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return self.reset_members([seed])

    def step(self, actions):
        p, copies = self.params, np.arange(self.num_envs)
        restart = self.prev_done  # NEXT_STEP autoreset: these restart, ignoring their action
        moving = ~restart
        moved = np.clip(self.agent + MOVES[np.asarray(actions)], 0, p.size - 1)
        self.agent[moving] = moved[moving]
        kinds = self.grid[copies, self.agent[:, 0], self.agent[:, 1]]
        collected = moving & (kinds >= 0)
        phi = np.zeros((self.num_envs, p.item_types))
        phi[collected, kinds[collected]] = 1.0
        self.grid[collected, self.agent[collected, 0], self.agent[collected, 1]] = -1
        for copy in np.flatnonzero(collected):
            cell = self._free_cell(copy)
            self.grid[copy, cell[0], cell[1]] = kinds[copy]
        rewards = np.where(collected, self.weights[copies, kinds], 0.0)
        self.t[moving] += 1
        truncated = moving & (self.t >= p.episode_length)
        for copy in np.flatnonzero(restart):
            self._reset_copy(copy)
        self.prev_done = truncated.copy()
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self._obs(), rewards, terminated, truncated, self._info(phi)


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

    def make_vector_env(self, params: ForagingParams, num_envs: int) -> gym.vector.VectorEnv:
        return self.vector(params, num_envs)

    def make_member_envs(
        self, params: ForagingParams, num_envs: int, members: int
    ) -> BatchedMemberEnvs:
        return BatchedMemberEnvs(self.vector(params, num_envs, members))

    def vector(self, params: ForagingParams, num_envs: int, members: int = 1) -> ForagingVector:
        return ForagingVector(params, lambda rng: self.sample(params, rng), num_envs, members)
