"""Advantage actor-critic, synchronous (A2C; Mnih et al. 2016, "Asynchronous Methods for
Deep Reinforcement Learning", with the batched workers of OpenAI Baselines' A2C).

Every ``rollout_steps`` steps of ``num_envs`` environments, one RMSProp step on the
policy-gradient loss with n-step (GAE, lambda 1 by default) advantages, a value loss and an
entropy bonus. The loop, network and defaults are agents/common/actor_critic_loop.py's;
this file is the update. agents/mg_a2c.py learns the discount online with the same loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.common.actor_critic_loop import ActorCriticConfig, ActorCriticLoop
from agents.common.returns import rollout_gae
from agents.common.rollout import Batch


@dataclass
class A2CConfig(ActorCriticConfig):
    """A2C's hyperparameters: the shared actor-critic fields, nothing of its own."""


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


class A2C(ActorCriticLoop):
    """A2C on a family with discrete actions."""

    config: A2CConfig

    def update(self, batch: Batch) -> dict[str, float]:
        """One RMSProp step on the rollout's A2C loss."""
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
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return {f"train/{key}": value for key, value in stats.items()}
