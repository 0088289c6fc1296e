"""Advantage actor-critic, synchronous (A2C; Mnih et al. 2016, "Asynchronous Methods for
Deep Reinforcement Learning", with the batched workers of OpenAI Baselines' A2C).

Every ``rollout_steps`` steps of ``num_envs`` environments, one RMSProp step on the
policy-gradient loss with n-step (GAE, lambda 1 by default) advantages, a value loss and an
entropy bonus. The agent is a population (agents/common/population.py): P members, each
with its own seed, discount, lambda, coefficients and learning rate, trained as one
batched computation; a lone run is a population of one. The loop, network and defaults
are agents/common/actor_critic_loop.py's; this file is the update. agents/mg_a2c.py
learns the discount online with the same loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agents.common import stacked
from agents.common.actor_critic_loop import ActorCriticConfig, ActorCriticLoop, Stats
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
    lam: float | torch.Tensor,
    *,
    value_coef: float | torch.Tensor,
    entropy_coef: float | torch.Tensor,
) -> tuple[torch.Tensor, Stats]:
    """Each member's A2C loss ``[P]`` on a ``[T, P, n]`` rollout; per-member discount and
    lambda are ``[P, 1]``, coefficients ``[P]``. Differentiable in ``discount`` when it is
    a tensor: returns bootstrap from detached values, so the parameters get the usual
    semi-gradient and only the discount sees through the targets.
    """
    advantages, returns = rollout_gae(data, values.detach(), last_values.detach(), discount, lam)
    valid = data["valid"].float()
    log_probs = torch.log_softmax(logits, -1)
    taken = log_probs.gather(-1, data["actions"].unsqueeze(-1)).squeeze(-1)
    policy_loss = -stacked.member_mean(taken * advantages, valid)
    value_loss = 0.5 * stacked.member_mean((returns - values).pow(2), valid)
    entropy = stacked.member_mean(-(log_probs.exp() * log_probs).sum(-1), valid)
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    stats = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}
    return loss, {key: value.detach() for key, value in stats.items()}


class A2C(ActorCriticLoop):
    """A2C on a family with discrete actions, for P members at once."""

    config: A2CConfig

    def update(self, batch: Batch) -> Stats:
        """One RMSProp step per member on its rollout's A2C loss."""
        obs = torch.cat([batch.data["obs"], batch.last_obs[None]]).transpose(0, 1)
        logits = self.policy_logits(obs[:, :-1]).transpose(0, 1)  # none needed after the last
        values = self.values(obs).transpose(0, 1)
        loss, stats = a2c_loss(
            logits,
            values[:-1],
            values[-1],
            batch.data,
            self.member_values("discount")[:, None],
            self.member_values("gae_lambda")[:, None],
            value_coef=self.member_values("value_coef"),
            entropy_coef=self.member_values("entropy_coef"),
        )
        self.step_optimizer(loss.sum())
        return {f"train/{key}": value for key, value in stats.items()}
