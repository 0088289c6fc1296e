"""PPO (Schulman et al. 2017) with GAE over whole meta-episodes: the update RL^2
(agents/rl2.py) and SNAIL (agents/snail.py) share, which differ only in their networks.

Each update runs PPO epochs over the meta-episodes of one batch (agents/common/
meta_learner.py plays them); minibatches hold whole meta-episodes, so gradients flow back
through every step of each one. The clipped objective is the one agents/ppo.py writes out
for flat minibatches, here on (T, tasks) tensors and without value clipping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.common.base import Report
from agents.common.cadence import Ticks
from agents.common.meta_learner import MetaConfig, MetaLearner
from agents.common.returns import gae
from envs.config import ConfigError, bounded


@dataclass
class MetaPPOConfig(MetaConfig):
    gae_lambda: float = bounded(0.3, 0.0, 1.0)
    """GAE lambda."""
    clip_range: float = bounded(0.2, 0.0, 1.0, low_open=True)
    """PPO's probability-ratio clip."""
    target_kl: float = bounded(0.02, 0.0)
    """Stop an update's epochs once the approximate KL passes this (0 never stops)."""
    ppo_epochs: int = bounded(4, 1, 100)
    """Passes over each batch of meta-episodes."""
    minibatches: int = bounded(4, 1, 1024)
    """Minibatches per pass; each holds whole meta-episodes."""

    def check(self) -> None:
        if self.num_tasks % self.minibatches:
            raise ConfigError(
                f"num_tasks={self.num_tasks} must split evenly into minibatches={self.minibatches}"
            )


def meta_ppo_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_range: float,
    value_coef: float,
    entropy_coef: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped PPO loss on a minibatch of meta-episodes and its parts; advantages are
    standardised per minibatch."""
    dist = torch.distributions.Categorical(logits=logits)
    log_ratio = dist.log_prob(actions) - old_logp
    ratio = log_ratio.exp()
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range)
    policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
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


class MetaPPO(MetaLearner):
    """The PPO update; subclasses provide the network (``make_net``)."""

    config: MetaPPOConfig

    def update(
        self, rollout: dict[str, torch.Tensor], ticks: Ticks
    ) -> Generator[Report, None, dict[str, float]]:
        cfg = self.config
        tasks = rollout["rewards"].shape[1]
        dones = torch.zeros_like(rollout["rewards"])
        dones[-1] = 1.0  # the meta-episode ends; trial ends inside it do not
        advantages, returns = gae(
            rollout["rewards"],
            rollout["values"],
            dones,
            torch.zeros(tasks, device=rollout["rewards"].device),
            cfg.discount,
            cfg.gae_lambda,
        )
        stats: dict[str, list[float]] = defaultdict(list)
        size = tasks // cfg.minibatches
        for _ in range(cfg.ppo_epochs):
            order = torch.from_numpy(self.rng.permutation(tasks)).to(self.device)
            for start in range(0, tasks, size):
                idx = order[start : start + size]
                logits, values = self.replay_policy(rollout, idx)
                loss, parts = meta_ppo_loss(
                    logits,
                    values,
                    rollout["actions"][:, idx],
                    rollout["logp"][:, idx],
                    advantages[:, idx],
                    returns[:, idx],
                    clip_range=cfg.clip_range,
                    value_coef=cfg.value_coef,
                    entropy_coef=cfg.entropy_coef,
                )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                for key, value in parts.items():
                    stats[key].append(value)
                if ticks.due():
                    yield Report(self.steps_done, {}, tick=True)
            if cfg.target_kl and np.mean(stats["approx_kl"][-cfg.minibatches :]) > cfg.target_kl:
                break
        return {f"train/{key}": float(np.mean(values)) for key, values in stats.items()}

    def replay_policy(
        self, rollout: dict[str, torch.Tensor], idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values of the current network on the meta-episodes ``idx`` of a
        batch, from their start (VariBAD reads its encoder's part once per batch)."""
        logits, values, _ = self.net(rollout["obs"][:, idx])
        return logits, values
