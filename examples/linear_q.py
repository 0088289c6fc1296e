"""A plug-in agent to copy: Q-learning with a linear Q-function, Q(s, a) = W[a] . s.

On a one-hot observation (``chain``, ``gym:FrozenLake-v1``, ``gym:CliffWalking-v1``)
this is exactly tabular Q-learning (Watkins 1989). It follows the workbench's agent
protocol (docs/plugins.md) and nothing else: train it with

    workbench run examples/linear_q.py:LinearQ chain --steps 5000
    workbench agents check examples/linear_q.py:LinearQ

Everything it keeps is a tensor or a plain value, so ``torch.load(weights_only=True)``
reads its checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.common.base import Report
from agents.common.cadence import Cadence
from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state
from envs.config import Config, bounded
from envs.family import TaskFamily

ENV_SEED_STRIDE = 1_000_003
"""Training episodes after a resume reset at ``seed * stride + steps_done``: a resumed
run starts fresh episodes without repeating the seeds of the run's first ones."""


@dataclass
class LinearQConfig(Config):
    learning_rate: float = bounded(0.1, 0.0, 1.0, low_open=True, log=True)
    """Step size of the Q-learning update."""
    discount: float = bounded(0.99, 0.0, 1.0)
    """Discount of future rewards in the TD target."""
    epsilon: float = bounded(0.1, 0.0, 1.0)
    """Probability of a random action while training."""
    initial_value: float = bounded(1.0, -1e6, 1e6)
    """Every weight's first value: optimistic (above the rewards) makes the agent try what
    it has not tried yet, which epsilon alone does not on a long chain."""
    eval_interval: int = bounded(1000, 1, 1_000_000_000)
    """Env steps between greedy evaluations (and one at the end)."""
    eval_episodes: int = bounded(10, 1, 10_000)
    """Episodes per greedy evaluation."""
    max_episode_steps: int = bounded(1000, 1, 1_000_000)
    """Evaluation episodes longer than this are cut (a greedy policy may loop forever)."""


class LinearQ:
    """Q-learning with a linear Q-function (tabular on one-hot observations)."""

    # The protocol's class attributes (docs/plugins.md).

    Config = LinearQConfig
    tasks = ("chain",)
    actions = ("discrete",)
    main_metric = "eval/episode_return"

    def __init__(
        self, config: LinearQConfig, task_family: TaskFamily, task_params: Config, seed: int
    ) -> None:
        self.config, self.family, self.task_params, self.seed = (
            config,
            task_family,
            task_params,
            seed,
        )
        self.env = task_family.make_env(task_params)
        self.observation_size = int(np.prod(self.env.observation_space.shape))
        self.num_actions = int(self.env.action_space.n)
        self.weights_table = torch.full(
            (self.num_actions, self.observation_size), config.initial_value
        )
        self.rng = np.random.default_rng(seed)
        self.steps_done = 0

    def q_values(self, observation: np.ndarray) -> np.ndarray:
        return self.weights_table.numpy() @ observation.reshape(-1)

    def greedy(self, observation: np.ndarray) -> int:
        """The best action, ties broken at random (all-zero Q-values at first)."""
        values = self.q_values(observation)
        return int(self.rng.choice(np.flatnonzero(values == values.max())))

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        """Q-learning for ``total_steps`` env steps in all (counting those already done).
        Each update is one step long, so it yields no ticks."""
        cfg = self.config
        cadence = Cadence(total_steps, cfg.eval_interval, report_interval=1000)
        table = self.weights_table.numpy()  # shares memory: updates go to the tensor
        observation, _ = self.env.reset(seed=self.seed * ENV_SEED_STRIDE + self.steps_done)
        episode_return = 0.0
        while self.steps_done < total_steps:
            if self.rng.random() < cfg.epsilon:
                action = int(self.rng.integers(self.num_actions))
            else:
                action = self.greedy(observation)
            next_observation, reward, terminated, truncated, _ = self.env.step(action)
            target = reward + (
                0.0 if terminated else cfg.discount * self.q_values(next_observation).max()
            )
            error = target - self.q_values(observation)[action]
            table[action] += cfg.learning_rate * error * observation.reshape(-1)
            episode_return += float(reward)
            before, self.steps_done = self.steps_done, self.steps_done + 1
            scalars: dict[str, float] = {"train/td_error": float(error)}
            if terminated or truncated:
                scalars["charts/episode_return"] = episode_return
                observation, _ = self.env.reset()
                episode_return = 0.0
            else:
                observation = next_observation
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                returns = self.evaluate(cfg.eval_episodes)
                scalars["eval/episode_return"] = float(returns.mean())
                scalars["eval/episode_return_std"] = float(returns.std())
            if due.report or "charts/episode_return" in scalars:
                yield Report(self.steps_done, scalars)

    def evaluate(self, episodes: int) -> np.ndarray:
        """Greedy episodes on a separate env, seeded apart from training."""
        env = self.family.make_env(self.task_params)
        returns = np.zeros(episodes)
        for episode in range(episodes):
            observation, _ = env.reset(seed=(self.seed + 1) * ENV_SEED_STRIDE + episode)
            for _ in range(self.config.max_episode_steps):
                observation, reward, terminated, truncated, _ = env.step(self.greedy(observation))
                returns[episode] += float(reward)
                if terminated or truncated:
                    break
        env.close()
        return returns

    def state_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights_table.clone(),
            "steps_done": self.steps_done,
            "rng": numpy_rng_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_weights(state)
        self.steps_done = int(state["steps_done"])
        set_numpy_rng_state(self.rng, state["rng"])

    def weights(self) -> dict[str, Any]:
        return {"weights": self.weights_table.clone()}

    def load_weights(self, state: dict[str, Any]) -> None:
        weights = state["weights"]
        if weights.shape != self.weights_table.shape:
            raise RuntimeError(
                f"weights of shape {tuple(weights.shape)} do not fit "
                f"{tuple(self.weights_table.shape)}"
            )
        self.weights_table.copy_(weights)
