"""Reference policies for the gridworld (envs/gridworld.py), each acting on many tasks.

- ``KnownGoal`` walks the shortest path to the goal and stays: the value of knowing the
  task, an upper bound no learner reaches.
- ``SystematicSearch`` walks to the nearest cell that could still hold the goal (cells
  it has passed through are ruled out, across the episodes of a task) and, once it has
  seen the goal, goes straight to it in every later step and episode. With ties broken
  by the lowest cell index it is deterministic; on VariBAD's grid it is close to
  Bayes-optimal (the goal is uniform, so nearest-first search is what a Bayes-optimal
  agent does up to the order of equally near cells).
"""

from __future__ import annotations

import numpy as np

from envs.config import NoConfig
from envs.gridworld import GridworldBatch, GridworldParams, distance, goal_cells


def step_towards(cells: np.ndarray, targets: np.ndarray, size: int) -> np.ndarray:
    """The action of one step along a shortest path (x first, then y); stay when there."""
    dx = targets % size - cells % size
    dy = targets // size - cells // size
    return np.select([dx > 0, dx < 0, dy > 0, dy < 0], [2, 4, 1, 3], default=0)


class KnownGoal:
    Config = NoConfig

    def __init__(self, config, params: GridworldParams, batch: GridworldBatch, rng) -> None:
        self.params, self.batch = params, batch

    def act(self, cells: np.ndarray) -> np.ndarray:
        return step_towards(cells, self.batch.goals, self.params.size)

    def observe(self, cells: np.ndarray, rewards: np.ndarray) -> None:
        pass


class SystematicSearch:
    Config = NoConfig

    def __init__(self, config, params: GridworldParams, batch: GridworldBatch, rng) -> None:
        self.params = params
        tasks, cells = batch.num_tasks, params.size * params.size
        self.candidate = np.zeros((tasks, cells), dtype=bool)
        self.candidate[:, goal_cells(params.size)] = True
        self.found = np.full(tasks, -1)
        self._all_cells = np.arange(cells)

    def act(self, cells: np.ndarray) -> np.ndarray:
        size = self.params.size
        far = distance(cells[:, None], self._all_cells[None], size)
        far = np.where(self.candidate, far, np.iinfo(np.int64).max)
        targets = np.where(self.found >= 0, self.found, far.argmin(axis=1))
        return step_towards(cells, targets, size)

    def observe(self, cells: np.ndarray, rewards: np.ndarray) -> None:
        rows = np.arange(len(cells))
        on_goal = rewards >= self.params.goal_reward
        self.found = np.where(on_goal, cells, self.found)
        self.candidate[rows, cells] = False


def play_gridworld(params: GridworldParams, make_policy, tasks: int, rng) -> np.ndarray:
    """Reward of every episode of one meta-episode per task, shape (episodes, tasks)."""
    batch = GridworldBatch(params, tasks)
    batch.sample_tasks(rng)
    policy = make_policy(batch, rng)
    per_trial = np.zeros((params.episodes, tasks))
    for episode in range(params.episodes):
        batch.reset_trial(rng)
        for _ in range(params.episode_length):
            actions = policy.act(batch.cells.copy())
            _, rewards = batch.step(actions, rng)
            policy.observe(batch.cells.copy(), rewards)
            per_trial[episode] += rewards
    return per_trial


def known_goal_return(params: GridworldParams, goal: int) -> float:
    """One episode's return of walking straight to ``goal`` and staying there."""
    steps = int(distance(np.array(0), np.array(goal), params.size))
    if steps > params.episode_length:
        return params.episode_length * params.step_reward
    stay = params.episode_length - steps + 1
    return (steps - 1) * params.step_reward + stay * params.goal_reward
