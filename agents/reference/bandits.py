"""Reference policies for Bernoulli bandits, each acting on many tasks at once.

They keep per-task success and failure counts per arm and choose from them; none learns
across tasks. Constants (UCB1's exploration, epsilon, Gittins' discount) are config fields
so a results table can say which value gave its number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.reference.gittins import gittins_table
from envs.config import Config, NoConfig, bounded


@dataclass
class EpsGreedyConfig(Config):
    epsilon: float = bounded(0.02, 0.0, 1.0)
    """Probability of a uniformly random arm instead of the greedy one."""


@dataclass
class UCB1Config(Config):
    exploration: float = bounded(0.15, 0.0)
    """c in mean + c * sqrt(2 ln t / n) (Auer et al. 2002 use c = 1)."""
    start_from_prior: bool = True
    """Score with the Beta(1, 1) posterior (mean (s+1)/(n+2), n+2 pulls) instead of first
    pulling every arm once, which costs half of a 10-pull budget on 5 arms (false: textbook)."""


@dataclass
class GittinsConfig(Config):
    discount: float = bounded(0.95, 0.0, 1.0, low_open=True, high_open=True)
    """Discount of the Gittins index (the infinite-horizon problem it is optimal for)."""


class BanditPolicy:
    """Counts of successes and failures per task and arm; subclasses pick arms from them."""

    Config: type[Config] = NoConfig

    def __init__(self, config: Config, arms: int, pulls: int, tasks: int, rng: np.random.Generator):
        self.config, self.arms, self.pulls, self.rng = config, arms, pulls, rng
        self.successes = np.zeros((tasks, arms))
        self.failures = np.zeros((tasks, arms))
        self.t = 0
        self._rows = np.arange(tasks)

    def act(self) -> np.ndarray:
        raise NotImplementedError

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.successes[self._rows, actions] += rewards
        self.failures[self._rows, actions] += 1.0 - rewards
        self.t += 1

    def argmax_random_ties(self, scores: np.ndarray) -> np.ndarray:
        best = scores >= scores.max(axis=1, keepdims=True) - 1e-12
        return (best * self.rng.random(scores.shape)).argmax(axis=1)

    def posterior_means(self) -> np.ndarray:
        """Means of the Beta(1 + successes, 1 + failures) posteriors of a uniform prior."""
        return (self.successes + 1.0) / (self.successes + self.failures + 2.0)


class RandomPolicy(BanditPolicy):
    def act(self) -> np.ndarray:
        return self.rng.integers(0, self.arms, len(self._rows))


class GreedyPolicy(BanditPolicy):
    def act(self) -> np.ndarray:
        return self.argmax_random_ties(self.posterior_means())


class EpsGreedyPolicy(BanditPolicy):
    Config = EpsGreedyConfig

    def act(self) -> np.ndarray:
        greedy = self.argmax_random_ties(self.posterior_means())
        explore = self.rng.random(len(greedy)) < self.config.epsilon
        return np.where(explore, self.rng.integers(0, self.arms, len(greedy)), greedy)


class UCB1Policy(BanditPolicy):
    """Pull each arm once, then the highest upper confidence bound (Auer et al. 2002)."""

    Config = UCB1Config

    def act(self) -> np.ndarray:
        pulls = self.successes + self.failures
        if self.config.start_from_prior:
            pulls, means, t = pulls + 2.0, self.posterior_means(), self.t + 2.0
        elif self.t < self.arms:
            return self.argmax_random_ties((pulls == 0).astype(float))
        else:
            means, t = self.successes / pulls, float(self.t)
        bonus = self.config.exploration * np.sqrt(2.0 * np.log(t) / pulls)
        return self.argmax_random_ties(means + bonus)


class ThompsonPolicy(BanditPolicy):
    """Pull the arm whose posterior sample is highest (Thompson 1933)."""

    def act(self) -> np.ndarray:
        return self.rng.beta(self.successes + 1.0, self.failures + 1.0).argmax(axis=1)


class GittinsPolicy(BanditPolicy):
    """Pull the arm of highest Gittins index of its Beta posterior (Gittins 1979)."""

    Config = GittinsConfig

    def __init__(self, config, arms, pulls, tasks, rng):
        super().__init__(config, arms, pulls, tasks, rng)
        self.table = gittins_table(config.discount, pulls)

    def act(self) -> np.ndarray:
        indices = self.table[self.successes.astype(int), self.failures.astype(int)]
        return self.argmax_random_ties(indices)
