"""Bernoulli bandit families: k-armed with U[0,1] arms (RL^2) and the two-armed independent
and dependent families of "Learning to Reinforcement Learn" (Wang et al. 2016).

One pull is one trial; a meta-episode is ``pulls`` pulls of one sampled task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from envs.config import Config, ConfigError, bounded, parse_numbers
from envs.family import Task, TaskFamily
from envs.meta import BatchedMetaEpisodes, MetaEpisodeEnv


def parse_probs(text: str, arms: int, field: str = "probs") -> np.ndarray | None:
    """A fixed task's arm probabilities from "0.2,0.7"; None for an empty string."""
    numbers = parse_numbers(text, arms, field, "arm")
    if numbers is None:
        return None
    probs = np.array(numbers)
    if not ((probs >= 0) & (probs <= 1)).all():
        raise ConfigError(f"{field}={text!r}: every probability must lie in [0, 1]")
    return probs


class BanditTrial(gym.Env):
    """One pull of a Bernoulli bandit: an empty observation, reward 1 with the arm's probability."""

    episode_length = 1
    reward_bounds = (0.0, 1.0)

    def __init__(self, arms: int) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (0,), np.float32)
        self.action_space = gym.spaces.Discrete(arms)
        self.probs = np.full(arms, 0.5)

    def set_task(self, task: Task) -> None:
        self.probs = np.asarray(task["probs"], dtype=float)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return np.zeros(0, dtype=np.float32), {}

    def step(self, action):
        reward = float(self.np_random.random() < self.probs[action])
        return np.zeros(0, dtype=np.float32), reward, True, False, {}


class BanditBatch:
    """``num_tasks`` bandits in one array: one pull of every task is one NumPy call."""

    observation_size = 0
    episode_length = 1

    def __init__(self, family: BanditFamily, params: Config, num_tasks: int) -> None:
        self.family, self.params, self.num_tasks = family, params, num_tasks
        self.num_actions = family.arms(params)
        self.probs = np.zeros((num_tasks, self.num_actions))
        self._rows = np.arange(num_tasks)
        self._empty = np.zeros((num_tasks, 0), dtype=np.float32)

    def sample_tasks(self, rng: np.random.Generator) -> None:
        self.probs = self.family.sample_probs(self.params, rng, self.num_tasks)

    def reset_trial(self, rng: np.random.Generator) -> np.ndarray:
        return self._empty

    def step(self, actions: np.ndarray, rng: np.random.Generator):
        rewards = (rng.random(self.num_tasks) < self.probs[self._rows, actions]).astype(np.float32)
        return self._empty, rewards


class BanditFamily(TaskFamily):
    """Common machinery: a family only says how to sample arm probabilities."""

    trials_field: ClassVar[str] = "pulls"

    def arms(self, params: Config) -> int:
        return params.arms  # type: ignore[attr-defined]

    def trials(self, params: Config) -> int:
        return params.pulls  # type: ignore[attr-defined]

    def sample_probs(self, params: Config, rng: np.random.Generator, n: int) -> np.ndarray:
        fixed = parse_probs(params.probs, self.arms(params))  # type: ignore[attr-defined]
        if fixed is not None:
            return np.tile(fixed, (n, 1))
        return self._draw(params, rng, n)

    def _draw(self, params: Config, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    def sample(self, params: Config, rng: np.random.Generator) -> Task:
        return {"probs": self.sample_probs(params, rng, 1)[0]}

    def make_env(self, params: Config) -> gym.Env:
        return MetaEpisodeEnv(
            BanditTrial(self.arms(params)),
            lambda rng: self.sample(params, rng),
            self.trials(params),
        )

    def batch(self, params: Config, num_tasks: int) -> BanditBatch:
        return BanditBatch(self, params, num_tasks)

    def meta_batch(
        self, params: Config, num_tasks: int, rng: np.random.Generator
    ) -> BatchedMetaEpisodes:
        return BatchedMetaEpisodes(self.batch(params, num_tasks), self.trials(params), rng)


@dataclass
class KArmedParams(Config):
    arms: int = bounded(5, 1, 1000)
    """Number of arms."""
    pulls: int = bounded(100, 1, 100_000)
    """Pulls per meta-episode (one task)."""
    probs: str = ""
    """Fixed arm probabilities, comma-separated; empty samples each arm from U[0, 1]."""

    def check(self) -> None:
        parse_probs(self.probs, self.arms)


class KArmedBandit(BanditFamily):
    name = "bandit"
    summary = "k-armed Bernoulli bandit, each arm's probability ~ U[0, 1] (RL^2)."
    Params = KArmedParams

    def _draw(self, params: Config, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.random((n, self.arms(params)))


@dataclass
class TwoArmedParams(Config):
    pulls: int = bounded(100, 1, 100_000)
    """Pulls per meta-episode (one task)."""
    probs: str = ""
    """Fixed probabilities of the two arms, comma-separated; empty samples them."""

    def check(self) -> None:
        parse_probs(self.probs, 2)


class TwoArmedBandit(BanditFamily):
    """Two arms; ``support`` None means p1 ~ U[0, 1], else p1 is drawn from its values."""

    Params = TwoArmedParams

    def __init__(self, name: str, summary: str, dependent: bool, support: tuple | None) -> None:
        self.name, self.summary = name, summary
        self.dependent, self.support = dependent, support

    def arms(self, params: Config) -> int:
        return 2

    def _draw(self, params: Config, rng: np.random.Generator, n: int) -> np.ndarray:
        if not self.dependent:
            return rng.random((n, 2))
        p1 = rng.random(n) if self.support is None else rng.choice(self.support, n)
        return np.stack([p1, 1.0 - p1], axis=1)

    def prior(self) -> dict[str, Any]:
        """The prior over p1 for exact Bayesian policies: uniform or a two-point set."""
        return {"dependent": self.dependent, "support": self.support}


def two_armed_families() -> list[TwoArmedBandit]:
    dependent = [
        ("uniform", None, "p1 ~ U[0, 1]"),
        ("easy", (0.1, 0.9), "p1 in {0.1, 0.9}"),
        ("medium", (0.25, 0.75), "p1 in {0.25, 0.75}"),
        ("hard", (0.4, 0.6), "p1 in {0.4, 0.6}"),
    ]
    return [
        TwoArmedBandit(
            "bandit-independent",
            "Two independent arms, p1, p2 ~ U[0, 1] (Wang et al. 2016).",
            dependent=False,
            support=None,
        ),
        *(
            TwoArmedBandit(
                f"bandit-dependent-{level}",
                f"Two dependent arms, p2 = 1 - p1, {text} (Wang et al. 2016).",
                dependent=True,
                support=support,
            )
            for level, support, text in dependent
        ),
    ]
