"""What every agent yields and offers: reports, evaluation, and its state for checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

import gymnasium as gym
import numpy as np
import torch

from envs.config import Config

RETURN_KEYS = ("charts/episode_return", "charts/meta_episode_return")
"""Metric keys of training returns, per episode or per meta-episode."""
EVAL_KEYS = ("eval/episode_return", "eval/meta_episode_return")
"""Metric keys of evaluation returns; ``KEY_std`` or ``KEY_ci95`` may accompany them."""


class Report(NamedTuple):
    """Scalars logged at one environment step, with slash-namespaced keys."""

    step: int
    scalars: dict[str, float]


class Agent(Protocol):
    """A learner (or reference policy) that trains in a generator and checkpoints itself.

    ``learn`` yields reports in increasing step order and stops when ``total_steps`` env
    steps are done. Between two yields the agent is consistent: ``state_dict`` taken there
    and loaded into a fresh agent continues the same run. The caller stops training by
    simply not asking for the next report.
    """

    config: Config
    steps_done: int

    def learn(self, total_steps: int) -> Iterator[Report]: ...

    def evaluate(self, episodes: int) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def weights(self) -> dict[str, Any]:
        """The network parameters alone: the part of ``state_dict`` another run can start
        from (``load_weights``), without optimiser, buffers, counters or RNGs."""
        ...

    def load_weights(self, state: dict[str, Any]) -> None:
        """Take the network parameters from ``weights()`` or a whole ``state_dict``;
        raises RuntimeError when the shapes do not fit this agent's networks."""
        ...


def greedy_episode_returns(
    env: gym.vector.VectorEnv, act: Callable[[np.ndarray], np.ndarray], seed: int
) -> np.ndarray:
    """Return of one episode in each copy of a batched env (NEXT_STEP autoreset), all
    played together; steps after a copy's episode ended are not counted."""
    observations, _ = env.reset(seed=seed)
    returns = np.zeros(env.num_envs)
    running = np.ones(env.num_envs, dtype=bool)
    while running.any():
        observations, rewards, terminated, truncated, _ = env.step(act(observations))
        returns += rewards * running
        running &= ~(terminated | truncated)
    env.close()
    return returns


def ci95(values: np.ndarray) -> float:
    """Half-width of the normal 95% confidence interval of the mean of ``values``."""
    return float(1.96 * values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def numpy_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A NumPy generator's state in a form torch.load(weights_only=True) accepts."""
    state = rng.bit_generator.state
    inner = state["state"]
    return {
        "bit_generator": state["bit_generator"],
        "state": str(inner["state"]),
        "inc": str(inner["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def set_numpy_rng_state(rng: np.random.Generator, saved: dict[str, Any]) -> None:
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {"state": int(saved["state"]), "inc": int(saved["inc"])},
        "has_uint32": saved["has_uint32"],
        "uinteger": saved["uinteger"],
    }


class GreedyEvaluation:
    """``evaluate`` for single-task agents with ``greedy_actions(observations)``: that many
    greedy episodes, all at once in one batched env, each evaluation on new seeds."""

    task: Any
    task_params: Config
    seed: int
    evaluations: int

    def evaluate(self, episodes: int) -> np.ndarray:
        self.evaluations += 1
        env = self.task.make_vector_env(self.task_params, episodes)
        seed = 10_000_019 * (self.seed + 1) + self.evaluations
        return greedy_episode_returns(env, self.greedy_actions, seed)  # type: ignore[attr-defined]


class NetOptimizerCheckpoint:
    """``state_dict``/``load_state_dict`` for agents whose state is one ``net``, its
    ``optimizer``, the step and evaluation counters and the NumPy and torch RNGs (PPO, A2C
    and the meta-RL agents), and ``weights``/``load_weights`` for the ``net`` alone."""

    net: Any
    optimizer: Any
    steps_done: int
    evaluations: int
    rng: np.random.Generator

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps_done": self.steps_done,
            "evaluations": self.evaluations,
            "rng": numpy_rng_state(self.rng),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps_done = int(state["steps_done"])
        self.evaluations = int(state.get("evaluations", 0))  # meta agents saved none before
        set_numpy_rng_state(self.rng, state["rng"])
        torch.set_rng_state(state["torch_rng"])

    def weights(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_weights(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
