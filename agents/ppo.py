"""Proximal Policy Optimisation (Schulman et al. 2017) with GAE (Schulman et al. 2016), on a
family's batched environment, feed-forward: the CleanRL recipe (orthogonal init, advantage
normalisation, optional clipped value loss, learning-rate annealing, target-KL stop).

One file, read top to bottom: config, the clipped loss, then the agent (rollouts, update).
For PPO over whole meta-episodes (RL^2, SNAIL) see agents/common/meta_ppo.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.common.base import GreedyEvaluation, Report
from agents.common.cadence import Cadence, Ticks
from agents.common.checkpoint import NetOptimizerCheckpoint
from agents.common.networks import ActorCritic
from agents.common.returns import rollout_gae
from agents.common.rollout import RolloutCollector
from agents.common.seeds import train_env_seed
from envs.config import MAX_STEPS, Config, ConfigError, bounded
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
    clip_value_loss: bool = False
    """Clip each value's move to clip_range around its rollout value, as CleanRL's clip_vloss."""
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
    eval_interval: int = bounded(10_000, 1, MAX_STEPS)
    """Env steps between evaluations (one is always run at the end)."""
    eval_episodes: int = bounded(20, 1, 1000)
    """Greedy episodes per evaluation."""

    def check(self) -> None:
        if self.minibatch_size > self.num_envs * self.rollout_steps:
            raise ConfigError(
                f"minibatch_size={self.minibatch_size} exceeds the batch num_envs x "
                f"rollout_steps = {self.num_envs * self.rollout_steps}"
            )


def ppo_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    old_logp: torch.Tensor,
    old_values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_range: float,
    value_coef: float,
    entropy_coef: float,
    clip_value_loss: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped PPO loss on one minibatch and its parts; advantages are standardised per
    minibatch. With ``clip_value_loss`` the value loss is the larger of the plain squared
    error and that of the value moved at most ``clip_range`` from ``old_values``."""
    dist = torch.distributions.Categorical(logits=logits)
    log_ratio = dist.log_prob(actions) - old_logp
    ratio = log_ratio.exp()
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range)
    policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
    if clip_value_loss:
        moved = old_values + (values - old_values).clamp(-clip_range, clip_range)
        value_loss = 0.5 * torch.max((values - returns).pow(2), (moved - returns).pow(2)).mean()
    else:
        value_loss = 0.5 * (values - returns).pow(2).mean()
    entropy = dist.entropy().mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    with torch.no_grad():
        stats = {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "approx_kl": ((ratio - 1) - log_ratio).mean().item(),
            "clip_fraction": ((ratio - 1).abs() > clip_range).float().mean().item(),
        }
    return loss, stats


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

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        cfg = self.config
        cadence = Cadence(total_steps, cfg.eval_interval)  # a report per update
        ticks = Ticks(tick_seconds)
        self.rollouts.reset(seed=train_env_seed(self.seed, self.steps_done))
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
            scalars = yield from self.update(data, advantages, returns, ticks)
            if finished:
                scalars["charts/episode_return"] = float(np.mean(finished))
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                results = self.evaluate(cfg.eval_episodes)
                scalars["eval/episode_return"] = float(results.mean())
                scalars["eval/episode_return_std"] = float(results.std())
            if due.report:
                yield Report(self.steps_done, scalars)

    def update(
        self, data, advantages, returns, ticks: Ticks
    ) -> Generator[Report, None, dict[str, float]]:
        """PPO epochs over one rollout in shuffled minibatches of valid steps; yields the
        ticks that fall due between minibatches and returns the update's scalars."""
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
                loss, parts = ppo_loss(
                    logits,
                    values,
                    flat["actions"][idx],
                    flat["logp"][idx],
                    flat["values"][idx],
                    advantages[idx],
                    returns[idx],
                    clip_range=cfg.clip_range,
                    value_coef=cfg.value_coef,
                    entropy_coef=cfg.entropy_coef,
                    clip_value_loss=cfg.clip_value_loss,
                )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                for key, value in parts.items():
                    stats[key].append(value)
                if ticks.due():
                    yield Report(self.steps_done, {}, tick=True)
            # The epoch's own minibatches decide whether the next epoch runs.
            per_epoch = -(-size // cfg.minibatch_size)
            if cfg.target_kl and np.mean(stats["approx_kl"][-per_epoch:]) > cfg.target_kl:
                break
        return {f"train/{key}": float(np.mean(values)) for key, values in stats.items()}
