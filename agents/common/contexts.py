"""A trained single-task policy on the contexts of an evaluation split (envs/splits.py).

What ``workbench eval RUN --split NAME`` computes (and what a report over modes and
splits reuses): the greedy policy plays one or a few episodes on each of N contexts of a
split, each context held fixed; the summary is over contexts (the mean of each context's
episodes counts once), with the share of contexts solved where the family has a
threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.base import ci95
from envs.config import ConfigError
from envs.control import ContextualFamily
from envs.splits import ContextParams

Act = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SplitResult:
    """Returns of a policy on a split: ``returns`` ``[contexts, episodes]`` and the
    contexts ``[contexts, factors]`` they were played on."""

    split: str
    factor_names: tuple[str, ...]
    contexts: np.ndarray
    returns: np.ndarray
    threshold: float | None

    @property
    def per_context(self) -> np.ndarray:
        return self.returns.mean(axis=1)

    @property
    def mean(self) -> float:
        return float(self.per_context.mean())

    @property
    def ci95(self) -> float:
        return ci95(self.per_context)

    @property
    def solved(self) -> float | None:
        """Share of contexts whose mean return reaches the threshold (None without one)."""
        if self.threshold is None:
            return None
        return float((self.per_context >= self.threshold).mean())

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "contexts": len(self.contexts),
            "episodes_per_context": int(self.returns.shape[1]),
            "mean": self.mean,
            "ci95": self.ci95,
            "solved_threshold": self.threshold,
            "solved": self.solved,
            "per_context": [
                dict(zip(self.factor_names, map(float, row), strict=True)) | {"return": float(r)}
                for row, r in zip(self.contexts, self.per_context, strict=True)
            ],
        }


def greedy_policy(agent: Any, name: str) -> Act:
    """The greedy action function of a single-task agent: a lone run is a population of
    one (agents/common/population.py) whose ``greedy_actions`` takes any number of
    observations."""
    population = getattr(agent, "population", None)
    act = getattr(population, "greedy_actions", None)
    if act is None:
        raise ConfigError(f"agent {name} has no greedy policy to evaluate on contexts")
    return act


def greedy_returns(env: Any, seed: int, act: Act) -> np.ndarray:
    """One greedy episode of every env of a vector env reset with ``seed``; steps after an
    env's episode ended are not counted (NEXT_STEP autoreset)."""
    observations, _ = env.reset(seed=seed)
    returns = np.zeros(env.num_envs)
    running = np.ones(env.num_envs, dtype=bool)
    while running.any():
        observations, rewards, terminated, truncated, _ = env.step(act(observations))
        returns += rewards * running
        running &= ~(terminated | truncated)
    env.close()
    return returns


def evaluate_split(
    family: ContextualFamily,
    params: ContextParams,
    split: str,
    act: Act,
    *,
    contexts: int,
    episodes: int,
    seed: int,
) -> SplitResult:
    """``act`` on ``contexts`` contexts of ``split`` (drawn with ``seed``), ``episodes``
    episodes each (the env reset with ``seed`` too, so a seed replays the evaluation)."""
    params.check_split(split)
    drawn = params.split_contexts(split, contexts, np.random.default_rng(seed))
    env = family.make_context_envs(params, np.repeat(drawn, episodes, axis=0))
    returns = greedy_returns(env, seed, act).reshape(contexts, episodes)
    return SplitResult(split, params.factor_names, drawn, returns, family.solved_threshold)
