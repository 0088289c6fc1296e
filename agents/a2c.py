"""Advantage actor-critic, synchronous (A2C; Mnih et al. 2016, "Asynchronous Methods for
Deep Reinforcement Learning", with the batched workers of OpenAI Baselines' A2C).

Every ``rollout_steps`` steps of ``num_envs`` environments, one RMSProp step on the
policy-gradient loss with n-step (GAE, lambda 1 by default) advantages, a value loss and an
entropy bonus. Defaults are Stable-Baselines3's A2C defaults with 8 environments, as in
rl-baselines3-zoo's CartPole settings. agents/mg_a2c.py learns the discount online on top
of this agent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.base import GreedyEvaluation, NetOptimizerCheckpoint, Report
from agents.ppo import ActorCritic
from agents.ppo_loss import clip_and_step
from agents.returns import rollout_gae
from agents.rollout import Batch, RolloutCollector
from envs.config import Config, bounded
from envs.family import TaskFamily


@dataclass
class A2CConfig(Config):
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
    eval_interval: int = bounded(10_000, 1)
    """Env steps between greedy evaluations (one is always run at the end)."""
    eval_episodes: int = bounded(20, 1, 1000)
    """Greedy episodes per evaluation."""


def a2c_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    last_values: torch.Tensor,
    data: dict[str, torch.Tensor],
    discount: float | torch.Tensor,
    lam: float,
    *,
    value_coef: float,
    entropy_coef: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """A2C's loss on a (T, B) rollout; differentiable in ``discount`` when it is a tensor.

    Returns bootstrap from detached values, so the parameters get the usual semi-gradient
    and only the discount sees through the targets.
    """
    advantages, returns = rollout_gae(data, values.detach(), last_values.detach(), discount, lam)
    valid = data["valid"].float()
    count = valid.sum().clamp(min=1.0)
    dist = torch.distributions.Categorical(logits=logits)
    policy_loss = -(dist.log_prob(data["actions"]) * advantages * valid).sum() / count
    value_loss = 0.5 * ((returns - values).pow(2) * valid).sum() / count
    entropy = (dist.entropy() * valid).sum() / count
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    stats = {
        "policy_loss": policy_loss.item(),
        "value_loss": value_loss.item(),
        "entropy": entropy.item(),
    }
    return loss, stats


class A2C(GreedyEvaluation, NetOptimizerCheckpoint):
    """A2C on a family with discrete actions; subclasses change the network and update."""

    config: A2CConfig

    def __init__(self, config: A2CConfig, task: TaskFamily, task_params: Config, seed: int):
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

    @torch.no_grad()
    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        obs = torch.as_tensor(observations, dtype=torch.float32)
        return self.policy_logits(obs).argmax(-1).numpy()

    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = self.policy_logits(obs)
        return torch.distributions.Categorical(logits=logits).sample(), {}

    def learn(self, total_steps: int) -> Iterator[Report]:
        cfg = self.config
        self.rollouts.reset(seed=self.seed * 1_000_003 + self.steps_done)
        finished: list[float] = []
        while self.steps_done < total_steps:
            before = self.steps_done
            batch = self.rollouts.collect(cfg.rollout_steps, self.act)
            self.steps_done += batch.steps
            finished += batch.finished_returns
            scalars = self.update(batch)
            evaluate = self.steps_done // cfg.eval_interval > before // cfg.eval_interval
            if evaluate or self.steps_done >= total_steps:
                results = self.evaluate(cfg.eval_episodes)
                scalars["eval/episode_return"] = float(results.mean())
                scalars["eval/episode_return_std"] = float(results.std())
            # One report per 1000 steps (and at evaluations) keeps the store's metric rows
            # proportionate to the run, however short its episodes.
            if "eval/episode_return" in scalars or self.steps_done // 1000 > before // 1000:
                if finished:
                    scalars["charts/episode_return"] = float(np.mean(finished))
                    finished.clear()
                yield Report(self.steps_done, scalars)

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        obs = torch.cat([batch.data["obs"], batch.last_obs[None]])
        logits, values = self.net(obs)
        loss, stats = a2c_loss(
            logits[:-1],
            values[:-1],
            values[-1],
            batch.data,
            cfg.discount,
            cfg.gae_lambda,
            value_coef=cfg.value_coef,
            entropy_coef=cfg.entropy_coef,
        )
        clip_and_step(self.optimizer, self.net, loss, cfg.max_grad_norm)
        return {f"train/{key}": value for key, value in stats.items()}
