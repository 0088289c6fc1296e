"""Reference policies for random tabular MDPs, each acting on many MDPs at once.

Model-based policies keep per-task counts: transitions with a Dirichlet posterior, mean
rewards with the conjugate Normal posterior of the task prior (known noise). At each
episode start they plan the episode by finite-horizon dynamic programming on a model:
the posterior mean (greedy, epsilon-greedy), a posterior sample (PSRL, Osband et al.
2013), or the true MDP (value iteration, an upper bound no learner reaches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.config import Config, ConfigError, NoConfig, bounded
from envs.tabular import TabularMDPBatch, TabularMDPParams

REWARD_PRIORS = ("flat", "task")


@dataclass
class ModelConfig(Config):
    reward_prior: str = "flat"
    """Mean-reward model: flat (a visited pair's empirical mean, variance noise^2/n; the task
    prior for unvisited pairs, as in Osband et al.) or task (conjugate Normal posterior)."""

    def check(self) -> None:
        if self.reward_prior not in REWARD_PRIORS:
            raise ConfigError(
                f"reward_prior={self.reward_prior!r} is not one of {', '.join(REWARD_PRIORS)}"
            )


@dataclass
class EpsGreedyModelConfig(ModelConfig):
    epsilon: float = bounded(0.1, 0.0, 1.0)
    """Probability of a uniformly random action instead of the planned one."""


def plan(transitions: np.ndarray, rewards: np.ndarray, horizon: int) -> np.ndarray:
    """Q-values (horizon, tasks, S, A) of finite-horizon DP; q[h] has horizon - h steps left."""
    tasks, states, actions = rewards.shape
    q = np.zeros((horizon, tasks, states, actions))
    value = np.zeros((tasks, states))
    for h in range(horizon - 1, -1, -1):
        q[h] = rewards + np.einsum("nsat,nt->nsa", transitions, value)
        value = q[h].max(axis=2)
    return q


class MDPPolicy:
    """Counts and posteriors per task; ``plan_episode`` picks the model to plan on."""

    Config: type[Config] = ModelConfig

    def __init__(
        self,
        config: Config,
        params: TabularMDPParams,
        batch: TabularMDPBatch,
        rng: np.random.Generator,
    ) -> None:
        self.config, self.params, self.batch, self.rng = config, params, batch, rng
        tasks, s, a = batch.num_tasks, params.states, params.actions
        self.transition_counts = np.zeros((tasks, s, a, s))
        self.reward_sums = np.zeros((tasks, s, a))
        self.visits = np.zeros((tasks, s, a))
        self._rows = np.arange(tasks)
        self.q = np.zeros((params.episode_length, tasks, s, a))

    def posterior_reward(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of each state-action's mean reward under ``reward_prior``."""
        p = self.params
        noise_variance = max(p.reward_noise, 1e-12) ** 2
        if self.config.reward_prior == "flat":
            visited = self.visits > 0
            n = np.maximum(self.visits, 1)
            mean = np.where(visited, self.reward_sums / n, p.reward_mean)
            return mean, np.where(visited, noise_variance / n, p.reward_mean_std**2)
        prior_precision = 1.0 / max(p.reward_mean_std, 1e-12) ** 2
        precision = prior_precision + self.visits / noise_variance
        mean = (prior_precision * p.reward_mean + self.reward_sums / noise_variance) / precision
        return mean, 1.0 / precision

    def posterior_transition_mean(self) -> np.ndarray:
        alpha = self.params.dirichlet + self.transition_counts
        return alpha / alpha.sum(axis=-1, keepdims=True)

    def plan_episode(self) -> None:
        mean_reward, _ = self.posterior_reward()
        self.q = plan(self.posterior_transition_mean(), mean_reward, self.params.episode_length)

    def act(self, states: np.ndarray, step_in_episode: int) -> np.ndarray:
        q = self.q[step_in_episode, self._rows, states]
        best = q >= q.max(axis=1, keepdims=True) - 1e-12
        return (best * self.rng.random(q.shape)).argmax(axis=1)

    def observe(self, states, actions, rewards, next_states) -> None:
        self.transition_counts[self._rows, states, actions, next_states] += 1
        self.reward_sums[self._rows, states, actions] += rewards
        self.visits[self._rows, states, actions] += 1


class RandomMDPPolicy(MDPPolicy):
    Config = NoConfig

    def plan_episode(self) -> None:
        pass

    def act(self, states: np.ndarray, step_in_episode: int) -> np.ndarray:
        return self.rng.integers(0, self.params.actions, len(states))


class GreedyMDPPolicy(MDPPolicy):
    """Plan on the posterior-mean model; no deliberate exploration."""


class EpsGreedyMDPPolicy(MDPPolicy):
    Config = EpsGreedyModelConfig

    def act(self, states: np.ndarray, step_in_episode: int) -> np.ndarray:
        greedy = super().act(states, step_in_episode)
        explore = self.rng.random(len(states)) < self.config.epsilon
        return np.where(explore, self.rng.integers(0, self.params.actions, len(states)), greedy)


class PSRLPolicy(MDPPolicy):
    """Posterior sampling: plan each episode on one MDP drawn from the posterior."""

    def plan_episode(self) -> None:
        alpha = self.params.dirichlet + self.transition_counts
        gamma = self.rng.gamma(alpha)
        transitions = gamma / gamma.sum(axis=-1, keepdims=True)
        mean, variance = self.posterior_reward()
        rewards = mean + np.sqrt(variance) * self.rng.standard_normal(mean.shape)
        self.q = plan(transitions, rewards, self.params.episode_length)


class ValueIterationPolicy(MDPPolicy):
    """Plans on the true MDP: the value of knowing the task, an upper bound."""

    Config = NoConfig

    def plan_episode(self) -> None:
        self.q = plan(self.batch.transitions, self.batch.rewards, self.params.episode_length)
