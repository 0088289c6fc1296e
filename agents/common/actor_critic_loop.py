"""The synchronous actor-critic machinery A2C (agents/a2c.py) and meta-gradient A2C
(agents/mg_a2c.py) share: their config fields, the batched env and its rollouts, RMSProp,
acting, greedy evaluation, checkpoints and the learn loop. Each algorithm adds its update
(loss and optimiser step), and may change the network."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.common.base import GreedyEvaluation, Report
from agents.common.cadence import REPORT_INTERVAL, Cadence, Ticks
from agents.common.checkpoint import NetOptimizerCheckpoint
from agents.common.networks import ActorCritic
from agents.common.rollout import Batch, RolloutCollector
from agents.common.seeds import train_env_seed
from envs.config import MAX_STEPS, Config, bounded
from envs.family import TaskFamily


@dataclass
class ActorCriticConfig(Config):
    """A2C's hyperparameters. Defaults are Stable-Baselines3's A2C defaults with 8
    environments, as in rl-baselines3-zoo's CartPole settings."""

    learning_rate: float = bounded(7e-4, 0.0, 1.0, low_open=True, log=True)
    """RMSProp step size."""
    discount: float = bounded(0.99, 0.0, 1.0)
    """Discount factor gamma of the returns."""
    gae_lambda: float = bounded(1.0, 0.0, 1.0)
    """GAE lambda (1 gives plain n-step returns)."""
    value_coef: float = bounded(0.5, 0.0)
    """Weight of the value loss."""
    entropy_coef: float = bounded(0.0, 0.0)
    """Weight of the entropy bonus."""
    max_grad_norm: float = bounded(0.5, 0.0, low_open=True)
    """Gradient clipping threshold (global L2 norm)."""
    num_envs: int = bounded(8, 1, 4096)
    """Environment copies stepped together."""
    rollout_steps: int = bounded(5, 1, 100_000)
    """Steps per environment between updates."""
    hidden_size: int = bounded(64, 1, 4096)
    """Units per hidden layer (two tanh layers, separate actor and critic)."""
    eval_interval: int = bounded(10_000, 1, MAX_STEPS)
    """Env steps between greedy evaluations (one is always run at the end)."""
    eval_episodes: int = bounded(20, 1, 1000)
    """Greedy episodes per evaluation."""


class ActorCriticLoop(GreedyEvaluation, NetOptimizerCheckpoint):
    """Collects a rollout of ``rollout_steps`` steps from ``num_envs`` envs and hands it to
    ``update``; subclasses write the update and may change the network."""

    config: ActorCriticConfig

    def __init__(
        self, config: ActorCriticConfig, task: TaskFamily, task_params: Config, seed: int
    ) -> None:
        self.config, self.task, self.task_params, self.seed = config, task, task_params, seed
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.env = task.make_vector_env(task_params, config.num_envs)
        self.rollouts = RolloutCollector(self.env)
        obs_size = int(np.prod(self.env.single_observation_space.shape))
        self.net = self.make_net(obs_size, int(self.env.single_action_space.n))
        self.optimizer = torch.optim.RMSprop(
            self.net.parameters(), lr=config.learning_rate, alpha=0.99, eps=1e-5
        )
        self.steps_done = 0
        self.evaluations = 0

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        return ActorCritic(inputs, actions, self.config.hidden_size)

    def policy_logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)[0]

    def update(self, batch: Batch) -> dict[str, float]:
        raise NotImplementedError

    @torch.no_grad()
    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        obs = torch.as_tensor(observations, dtype=torch.float32)
        return self.policy_logits(obs).argmax(-1).numpy()

    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = self.policy_logits(obs)
        return torch.distributions.Categorical(logits=logits).sample(), {}

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        cfg = self.config
        cadence = Cadence(total_steps, cfg.eval_interval, REPORT_INTERVAL)
        ticks = Ticks(tick_seconds)  # an update is one gradient step: ticks between them
        self.rollouts.reset(seed=train_env_seed(self.seed, self.steps_done))
        finished: list[float] = []
        while self.steps_done < total_steps:
            before = self.steps_done
            batch = self.rollouts.collect(cfg.rollout_steps, self.act)
            self.steps_done += batch.steps
            finished += batch.finished_returns
            scalars = self.update(batch)
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                results = self.evaluate(cfg.eval_episodes)
                scalars["eval/episode_return"] = float(results.mean())
                scalars["eval/episode_return_std"] = float(results.std())
            if due.report:  # the episodes finished since the last report, averaged
                if finished:
                    scalars["charts/episode_return"] = float(np.mean(finished))
                    finished.clear()
                yield Report(self.steps_done, scalars)
            elif ticks.due():
                yield Report(self.steps_done, {}, tick=True)
