"""Scavenger: collect objects of several types on a toroidal grid (Barreto et al. 2019,
"The Option Keyboard", DeepMind's option_keyboard code; the task of the successor-feature
and discount-search experiments built on it).

The arena is ``size`` x ``size`` cells (11 by default) that wrap around at the edges;
row 0 and column 0 are walls, which leaves a 10 x 10 room. ``objects`` objects (10) of
``object_types`` types (2, drawn with equal probability) lie on distinct free cells and
the agent on another. Four actions move it one cell (0: +y, 1: -y, 2: -x, 3: +x); a
move into a wall leaves it in place. Stepping on an object collects it (it does not
reappear). The cumulant phi is the one-hot of the collected type (zeros when nothing
was collected), given in ``info["phi"]``. An episode ends by truncation after
``episode_length`` steps (50; option_keyboard pretrains its keyboard with 40).

Rewards:
- ``linear``: r = w . phi with ``weights`` w (the successor-feature tasks; option_keyboard's
  figure 4 uses w = (1, -1));
- ``balanced``: +1 for collecting an object of a type that was, before collecting it, at
  least as abundant on the grid as every other type (ties count), -1 otherwise
  (option_keyboard's ``BalancedCollectionRewarder``, the DQN task).

Observation: option_keyboard's egocentric arena, flattened: a ``size x size x
(object_types + 2)`` one-hot image shifted so the agent is at cell (0, 0); channels
0 .. types-1 mark objects of each type, channel ``types`` the agent, channel
``types + 1`` the walls.

One batched NumPy implementation serves a single env, a vector env and a population's
member envs: each member's copies draw their layouts from that member's own generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from envs.config import Config, ConfigError, bounded, parse_numbers
from envs.family import Task, TaskFamily

REWARDS = ("linear", "balanced")
MOVES = np.array([(0, 1), (0, -1), (-1, 0), (1, 0)])
"""Action -> change of (x, y), option_keyboard's UP, DOWN, LEFT, RIGHT."""


@dataclass
class ScavengerParams(Config):
    reward: str = "balanced"
    """linear (r = weights . phi) or balanced (+1 for a currently most abundant type, else -1)."""
    weights: str = "1,-1"
    """Comma-separated reward weight per object type, for reward=linear."""
    size: int = bounded(11, 3, 64)
    """Cells per side, walls included (row 0 and column 0 are walls)."""
    objects: int = bounded(10, 1, 4000)
    """Objects placed at each reset."""
    object_types: int = bounded(2, 1, 16)
    """Kinds of object (the length of phi and of weights)."""
    episode_length: int = bounded(50, 1, 100_000)
    """Steps per episode (truncation)."""

    def check(self) -> None:
        if self.reward not in REWARDS:
            raise ConfigError(f"reward={self.reward!r} is not one of {', '.join(REWARDS)}")
        if self.reward == "balanced" and self.object_types < 2:
            raise ConfigError(
                f"reward=balanced needs object_types >= 2 (got {self.object_types}): "
                "balance is between types"
            )
        self.weight_vector()
        free = (self.size - 1) ** 2
        if self.objects >= free:
            raise ConfigError(
                f"objects={self.objects} do not fit with the agent in the {free} free cells "
                f"of a size={self.size} arena; use fewer objects or a larger size"
            )

    def weight_vector(self) -> np.ndarray:
        values = parse_numbers(self.weights, self.object_types, "weights", "object type")
        if values is None:
            raise ConfigError(
                f"weights is empty: give one reward weight per object type "
                f"({self.object_types}), e.g. weights={','.join(['1'] * self.object_types)}",
                field="weights",
            )
        return np.asarray(values, dtype=np.float64)

    @property
    def observation_size(self) -> int:
        return self.size * self.size * (self.object_types + 2)


class ScavengerEnvs:
    """``members`` x ``envs_per_member`` scavenger arenas stepped together (NEXT_STEP
    autoreset: the step after an episode's end only resets that copy). Member m's copies
    draw their layouts from member m's generator, so a member's block behaves the same
    whatever the other members do (envs/population.py)."""

    def __init__(self, params: ScavengerParams, envs_per_member: int, members: int = 1) -> None:
        self.params = params
        self.members, self.envs_per_member = members, envs_per_member
        self.num_envs = members * envs_per_member
        self.weights = params.weight_vector()
        self.single_observation_space = gym.spaces.Box(
            0.0, 1.0, (params.observation_size,), np.float32
        )
        self.single_action_space = gym.spaces.Discrete(4)
        size = params.size
        cells = np.arange(size * size)
        self.free_cells = cells[(cells // size != 0) & (cells % size != 0)]
        self.walls = np.zeros((size, size), dtype=bool)
        self.walls[0, :] = self.walls[:, 0] = True
        self.grid = np.full((self.num_envs, size, size), -1, dtype=np.int8)
        self.position = np.zeros((self.num_envs, 2), dtype=np.int64)
        self.counts = np.zeros((self.num_envs, params.object_types), dtype=np.int64)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.after_done = np.zeros(self.num_envs, dtype=bool)
        self.rngs = [np.random.default_rng(m) for m in range(members)]

    # --- layouts ----------------------------------------------------------------------
    def _place(self, envs: np.ndarray, rng: np.random.Generator) -> None:
        """New layouts for these copies, drawn from one member's generator."""
        p = self.params
        count = len(envs)
        order = rng.random((count, len(self.free_cells))).argsort(axis=1)[:, : p.objects + 1]
        chosen = self.free_cells[order]
        types = rng.integers(0, p.object_types, (count, p.objects))
        self.grid[envs] = -1
        rows = np.repeat(envs, p.objects)
        self.grid[rows, chosen[:, :-1].ravel() // p.size, chosen[:, :-1].ravel() % p.size] = (
            types.ravel()
        )
        self.position[envs] = np.stack([chosen[:, -1] // p.size, chosen[:, -1] % p.size], axis=1)
        self.counts[envs] = (types[:, :, None] == np.arange(p.object_types)).sum(axis=1)
        self.steps[envs] = 0

    def _place_by_member(self, envs_mask: np.ndarray) -> None:
        n = self.envs_per_member
        for member, rng in enumerate(self.rngs):
            block = np.flatnonzero(envs_mask[member * n : (member + 1) * n]) + member * n
            if len(block):
                self._place(block, rng)

    # --- the vector-env interface ------------------------------------------------------
    def reset(
        self, seed: int | Sequence[int] | None = None, *, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy; ``seed``: one per member (or an int for a single member)."""
        if seed is not None:
            seeds = [seed] if np.isscalar(seed) else list(seed)
            if len(seeds) != self.members:
                raise ValueError(f"{len(seeds)} seeds for {self.members} members")
            self.rngs = [np.random.default_rng(int(s)) for s in seeds]
        self._place_by_member(np.ones(self.num_envs, dtype=bool))
        self.after_done[:] = False
        return self.observe(), {"phi": np.zeros((self.num_envs, self.params.object_types))}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        p = self.params
        restarting = self.after_done.copy()
        if restarting.any():
            self._place_by_member(restarting)
        moving = ~restarting
        target = (self.position + MOVES[np.asarray(actions, dtype=np.int64)]) % p.size
        blocked = self.walls[target[:, 0], target[:, 1]] | ~moving
        self.position = np.where(blocked[:, None], self.position, target)
        envs = np.arange(self.num_envs)
        collected = self.grid[envs, self.position[:, 0], self.position[:, 1]].astype(np.int64)
        collected[restarting] = -1
        took = collected >= 0
        self.grid[envs[took], self.position[took, 0], self.position[took, 1]] = -1
        phi = np.zeros((self.num_envs, p.object_types))
        phi[envs[took], collected[took]] = 1.0
        self.counts -= phi.astype(np.int64)
        rewards = self.reward(phi, took)
        self.steps += moving
        truncated = moving & (self.steps >= p.episode_length)
        terminated = np.zeros(self.num_envs, dtype=bool)
        self.after_done = truncated.copy()
        return self.observe(), rewards, terminated, truncated, {"phi": phi}

    def reward(self, phi: np.ndarray, took: np.ndarray) -> np.ndarray:
        """The task's reward for cumulants ``phi`` (counts already after collection)."""
        if self.params.reward == "linear":
            return phi @ self.weights
        before = self.counts + phi
        most = self.counts.max(axis=1)
        abundant = (before * phi).sum(axis=1) >= most
        return np.where(took, np.where(abundant, 1.0, -1.0), 0.0)

    def observe(self) -> np.ndarray:
        """The egocentric one-hot arena of every copy, flattened, ``[num_envs, obs]``."""
        p = self.params
        axis = np.arange(p.size)
        rows = (axis[None, :] + self.position[:, :1]) % p.size  # arena row shown at i
        cols = (axis[None, :] + self.position[:, 1:]) % p.size
        envs = np.arange(self.num_envs)[:, None, None]
        grid = self.grid[envs, rows[:, :, None], cols[:, None, :]]
        walls = self.walls[rows[:, :, None], cols[:, None, :]]
        arena = np.zeros((self.num_envs, p.size, p.size, p.object_types + 2), dtype=np.float32)
        arena[..., : p.object_types] = grid[..., None] == np.arange(p.object_types)
        arena[:, 0, 0, p.object_types] = 1.0
        arena[..., p.object_types + 1] = walls
        return arena.reshape(self.num_envs, -1)

    def close(self) -> None:
        pass


class ScavengerVector(ScavengerEnvs, gym.vector.VectorEnv):
    """The lone vector env: one member's copies, with gymnasium's vector-env attributes."""

    metadata = {"render_modes": [], "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, params: ScavengerParams, num_envs: int) -> None:
        ScavengerEnvs.__init__(self, params, num_envs, 1)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed: int | None = None, options: dict | None = None):  # type: ignore[override]
        return ScavengerEnvs.reset(self, seed, options=options)


class ScavengerEnv(gym.Env):
    """One arena (the batched form with a single copy)."""

    metadata = {"render_modes": []}

    def __init__(self, params: ScavengerParams) -> None:
        self.batch = ScavengerEnvs(params, 1)
        self.observation_space = self.batch.single_observation_space
        self.action_space = self.batch.single_action_space
        self.params = params

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:  # continue the generator gymnasium seeded (or a fresh one)
            self.batch.rngs = [self.np_random]
        observations, info = self.batch.reset(seed)
        return observations[0], {"phi": info["phi"][0]}

    def step(self, action):
        observations, rewards, terminated, truncated, info = self.batch.step(np.array([action]))
        return (
            observations[0],
            float(rewards[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            {"phi": info["phi"][0]},
        )


class ScavengerFamily(TaskFamily):
    name = "scavenger"
    summary = "Collect objects of two types on a 10x10 toroidal room (option_keyboard's task)."
    Params = ScavengerParams

    def sample(self, params: ScavengerParams, rng: np.random.Generator) -> Task:
        return {"reward": params.reward, "weights": params.weight_vector()}

    def make_env(self, params: ScavengerParams) -> gym.Env:
        return ScavengerEnv(params)

    def make_vector_env(self, params: ScavengerParams, num_envs: int) -> gym.vector.VectorEnv:
        return ScavengerVector(params, num_envs)

    def make_member_envs(self, params: ScavengerParams, num_envs: int, members: int) -> Any:
        return ScavengerEnvs(params, num_envs, members)
