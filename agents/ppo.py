"""Proximal Policy Optimisation (Schulman et al. 2017) with GAE (Schulman et al. 2016), on a
family's batched environment, feed-forward: the CleanRL recipe (orthogonal init, advantage
normalisation, clipped value loss optional, learning-rate annealing, target-KL stop).

For recurrent PPO across tasks see agents/rl2.py, which shares agents/returns.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.base import GreedyEvaluation, NetOptimizerCheckpoint, Report
from agents.ppo_loss import clip_and_step, clipped_ppo_loss
from agents.returns import rollout_gae
from agents.rollout import RolloutCollector
from envs.config import Config, ConfigError, bounded
from envs.family import TaskFamily


@dataclass
class PPOConfig(Config):
    learning_rate: float = bounded(2.5e-4, 0.0, 1.0, low_open=True, log=True)
    """Adam step size (annealed linearly to 0 when anneal_learning_rate)."""
    anneal_learning_rate: bool = True
    """Decay the learning rate linearly to zero over the step budget."""
    discount: float = bounded(0.99, 0.0, 1.0)
    """Discount factor gamma."""
    gae_lambda: float = bounded(0.95, 0.0, 1.0)
    """GAE lambda."""
    clip_range: float = bounded(0.2, 0.0, 1.0, low_open=True)
    """PPO's probability-ratio clip."""
    value_coef: float = bounded(0.5, 0.0)
    """Weight of the value loss."""
    entropy_coef: float = bounded(0.01, 0.0)
    """Weight of the entropy bonus."""
    max_grad_norm: float = bounded(0.5, 0.0, low_open=True)
    """Gradient clipping threshold (global L2 norm)."""
    target_kl: float = bounded(0.0, 0.0)
    """Stop an update's epochs once the approximate KL passes this (0 never stops)."""
    ppo_epochs: int = bounded(4, 1, 100)
    """Passes over each rollout."""
    minibatch_size: int = bounded(128, 1, 1_000_000)
    """Transitions per minibatch."""
    num_envs: int = bounded(4, 1, 4096)
    """Environment copies stepped together."""
    rollout_steps: int = bounded(128, 1, 100_000)
    """Steps per environment between updates (batch = num_envs x rollout_steps)."""
    hidden_size: int = bounded(64, 1, 4096)
    """Units per hidden layer (two tanh layers, separate actor and critic)."""
    eval_interval: int = bounded(10_000, 1)
    """Env steps between evaluations (one is always run at the end)."""
    eval_episodes: int = bounded(20, 1, 1000)
    """Greedy episodes per evaluation."""

    def check(self) -> None:
        if self.minibatch_size > self.num_envs * self.rollout_steps:
            raise ConfigError(
                f"minibatch_size={self.minibatch_size} exceeds the batch num_envs x "
                f"rollout_steps = {self.num_envs * self.rollout_steps}"
            )


def layer(inputs: int, outputs: int, gain: float = np.sqrt(2)) -> nn.Linear:
    linear = nn.Linear(inputs, outputs)
    nn.init.orthogonal_(linear.weight, gain)
    nn.init.zeros_(linear.bias)
    return linear


class ActorCritic(nn.Module):
    def __init__(self, inputs: int, actions: int, hidden: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            layer(inputs, hidden),
            nn.Tanh(),
            layer(hidden, hidden),
            nn.Tanh(),
            layer(hidden, 1, 1.0),
        )
        self.actor = nn.Sequential(
            layer(inputs, hidden),
            nn.Tanh(),
            layer(hidden, hidden),
            nn.Tanh(),
            layer(hidden, actions, 0.01),
        )

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), self.critic(obs).squeeze(-1)


class PPO(GreedyEvaluation, NetOptimizerCheckpoint):
    """Feed-forward PPO on a family with discrete actions."""

    def __init__(self, config: PPOConfig, task: TaskFamily, task_params: Config, seed: int):
        self.config, self.task, self.task_params, self.seed = config, task, task_params, seed
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.env = task.make_vector_env(task_params, config.num_envs)
        self.rollouts = RolloutCollector(self.env)
        obs_size = int(np.prod(self.env.single_observation_space.shape))
        self.net = ActorCritic(obs_size, int(self.env.single_action_space.n), config.hidden_size)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.learning_rate, eps=1e-5)
        self.steps_done = 0
        self.evaluations = 0

    @torch.no_grad()
    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        logits, _ = self.net(torch.as_tensor(observations, dtype=torch.float32))
        return logits.argmax(-1).numpy()

    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits, value = self.net(obs)
        dist = torch.distributions.Categorical(logits=logits)
        action = dist.sample()
        return action, {"logp": dist.log_prob(action), "values": value}

    def learn(self, total_steps: int) -> Iterator[Report]:
        cfg = self.config
        self.rollouts.reset(seed=self.seed * 1_000_003 + self.steps_done)
        while self.steps_done < total_steps:
            before = self.steps_done
            if cfg.anneal_learning_rate:
                remaining = max(0.0, 1.0 - self.steps_done / total_steps)
                self.optimizer.param_groups[0]["lr"] = cfg.learning_rate * remaining
            batch = self.rollouts.collect(cfg.rollout_steps, self.act)
            self.steps_done += batch.steps
            data, finished = batch.data, batch.finished_returns
            with torch.no_grad():
                _, last_value = self.net(batch.last_obs)
            advantages, returns = rollout_gae(
                data, data["values"], last_value, cfg.discount, cfg.gae_lambda
            )
            scalars = self.update(data, advantages, returns)
            if finished:
                scalars["charts/episode_return"] = float(np.mean(finished))
            if self.steps_done // cfg.eval_interval > before // cfg.eval_interval or (
                self.steps_done >= total_steps
            ):
                results = self.evaluate(cfg.eval_episodes)
                scalars["eval/episode_return"] = float(results.mean())
                scalars["eval/episode_return_std"] = float(results.std())
            yield Report(self.steps_done, scalars)

    def update(self, data, advantages, returns) -> dict[str, float]:
        cfg = self.config
        valid = data["valid"].reshape(-1)
        flat = {key: value.reshape(-1, *value.shape[2:])[valid] for key, value in data.items()}
        advantages, returns = advantages.reshape(-1)[valid], returns.reshape(-1)[valid]
        size = len(returns)
        stats: dict[str, list[float]] = defaultdict(list)
        for _ in range(cfg.ppo_epochs):
            order = torch.from_numpy(self.rng.permutation(size))
            for start in range(0, size, cfg.minibatch_size):
                idx = order[start : start + cfg.minibatch_size]
                logits, values = self.net(flat["obs"][idx])
                loss, parts = clipped_ppo_loss(
                    logits,
                    values,
                    flat["actions"][idx],
                    flat["logp"][idx],
                    advantages[idx],
                    returns[idx],
                    clip_range=cfg.clip_range,
                    value_coef=cfg.value_coef,
                    entropy_coef=cfg.entropy_coef,
                )
                clip_and_step(self.optimizer, self.net, loss, cfg.max_grad_norm)
                for key, value in parts.items():
                    stats[key].append(value)
            # The epoch's own minibatches decide whether the next epoch runs.
            per_epoch = -(-size // cfg.minibatch_size)
            if cfg.target_kl and np.mean(stats["approx_kl"][-per_epoch:]) > cfg.target_kl:
                break
        return {f"train/{key}": float(np.mean(values)) for key, values in stats.items()}
