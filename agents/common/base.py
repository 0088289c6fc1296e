"""What every agent yields and offers: reports, the agent protocol, and greedy evaluation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

import gymnasium as gym
import numpy as np

from agents.common.seeds import eval_env_seed
from envs.config import Config

RETURN_KEYS = ("charts/episode_return", "charts/meta_episode_return")
"""Metric keys of training returns, per episode or per meta-episode."""
EVAL_KEYS = ("eval/episode_return", "eval/meta_episode_return")
"""Metric keys of evaluation returns; ``KEY_std`` or ``KEY_ci95`` may accompany them."""


class Report(NamedTuple):
    """Scalars logged at one environment step, with slash-namespaced keys; or a tick."""

    step: int
    scalars: dict[str, float]
    tick: bool = False
    """A tick, yielded inside a long update when ``learn`` was given ``tick_seconds``:
    no scalars, only a point where the caller may stop (``state_dict`` is consistent
    there: the update so far, which a resume does not finish)."""


class Agent(Protocol):
    """A learner (or reference policy) that trains in a generator and checkpoints itself.

    ``learn`` yields reports in increasing step order and stops when ``total_steps`` env
    steps are done. Between two yields the agent is consistent: ``state_dict`` taken there
    and loaded into a fresh agent continues the same run. The caller stops training by
    simply not asking for the next report. With ``tick_seconds``, ``learn`` also yields
    ticks (``Report.tick``) at least that often inside its inner update loops (gradient
    steps, PPO epochs and minibatches, segments), so a caller can stop within a long
    update; the reports, and every number in them, are the same with or without ticks.
    """

    config: Config
    steps_done: int

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]: ...

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
        seed = eval_env_seed(self.seed, self.evaluations)
        return greedy_episode_returns(env, self.greedy_actions, seed)  # type: ignore[attr-defined]
