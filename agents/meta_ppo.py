"""PPO (Schulman et al. 2017) with GAE over whole meta-episodes, for sequence policies.

Each update runs PPO epochs over the meta-episodes of one batch (agents/meta.py plays
them); minibatches hold whole meta-episodes, so gradients flow back through every step of
each one. RL^2 and SNAIL are this trainer with different networks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from agents.meta import MetaConfig, MetaLearner
from agents.ppo_loss import clipped_ppo_loss
from agents.returns import gae
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


class MetaPPO(MetaLearner):
    """The PPO update; subclasses provide the network (``make_net``)."""

    config: MetaPPOConfig

    def update(self, rollout: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        tasks = rollout["rewards"].shape[1]
        dones = torch.zeros_like(rollout["rewards"])
        dones[-1] = 1.0  # the meta-episode ends; trial ends inside it do not
        advantages, returns = gae(
            rollout["rewards"],
            rollout["values"],
            dones,
            torch.zeros(tasks),
            cfg.discount,
            cfg.gae_lambda,
        )
        stats: dict[str, list[float]] = defaultdict(list)
        size = tasks // cfg.minibatches
        for _ in range(cfg.ppo_epochs):
            order = torch.from_numpy(self.rng.permutation(tasks))
            for start in range(0, tasks, size):
                idx = order[start : start + size]
                logits, values, _ = self.net(rollout["obs"][:, idx])
                loss, parts = clipped_ppo_loss(
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
                self.clip_and_step(loss)
                for key, value in parts.items():
                    stats[key].append(value)
            if cfg.target_kl and np.mean(stats["approx_kl"][-cfg.minibatches :]) > cfg.target_kl:
                break
        return {f"train/{key}": float(np.mean(values)) for key, values in stats.items()}
