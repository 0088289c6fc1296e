"""Meta-gradient A2C: A2C whose discount is learned online (Xu, van Hasselt & Silver 2018,
"Meta-Gradient Reinforcement Learning", NeurIPS).

Each update k does two things (agents/common/meta_gradient.py has the algebra; the loop,
config fields and acting are agents/common/actor_critic_loop.py's, as A2C's):

1. Meta step. The previous update moved theta_{k-1} to theta_k with the A2C loss under
   gamma = sigmoid(eta) on rollout k-1. This update's fresh rollout k is the validation
   data (online cross-validation): the meta-objective J' is the policy-gradient loss under
   the fixed reference discount ``meta_discount`` (lambda' = 1) at theta_k, and eta moves
   along -alpha * dJ'/dtheta_k . d g_{k-1} / d eta.
2. Inner step: the A2C update on rollout k under the new gamma.

Options from the paper and after it:
- ``condition_on_discount``: the policy and values also see a learned embedding of gamma
  (the paper's conditioning); J' is then measured conditioned on gamma'.
- ``outer_value_head``: J' takes its baseline and bootstrap from a second value head
  trained on gamma' returns, instead of the critic trained under the learned gamma, which
  biases the meta-gradient (Bonnet et al. 2022, "One Step at a Time: Pros and Cons of
  Multi-Step Meta-Gradient Reinforcement Learning"). On by default.

Logs ``meta/discount`` and ``meta/gradient`` every update.

The agent is a population (agents/common/population.py): P members with their own seeds,
initial discounts, meta discounts and meta step sizes, each meta step taken per member
(agents/common/meta_gradient.py ``StackedDiscount``); a lone run is a population of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from agents.common import stacked
from agents.common.actor_critic_loop import ActorCriticConfig, ActorCriticLoop, Stats
from agents.common.meta_gradient import StackedDiscount
from agents.common.networks import layer
from agents.common.returns import rollout_gae
from agents.common.rollout import Batch
from envs.config import bounded

EMBEDDING = 16
"""Width of the learned embedding of gamma when the network is conditioned on it."""


@dataclass
class MetaGradientA2CConfig(ActorCriticConfig):
    discount: float = bounded(0.99, 0.0, 1.0, low_open=True, high_open=True, per_member=True)
    """Initial discount gamma; then learned online."""
    meta_discount: float = bounded(0.99, 0.0, 1.0, per_member=True)
    """Reference discount gamma' of the meta-objective (fixed)."""
    meta_learning_rate: float = bounded(1e-2, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size of the discount's logit."""
    condition_on_discount: bool = False
    """Feed a learned embedding of gamma to the policy and values."""
    outer_value_head: bool = True
    """Give the meta-objective its own value head trained on gamma' returns."""


class DiscountActorCritic(nn.Module):
    """Actor, inner critic V_gamma and outer critic V_gamma', optionally fed gamma: one
    member's network (its parameter names are a checkpoint's); the population runs the
    members' stacked copies through ``discount_actor_critic``."""

    def __init__(self, inputs: int, actions: int, hidden: int, conditioned: bool) -> None:
        super().__init__()
        self.conditioned = conditioned
        if conditioned:
            self.embed = nn.Linear(1, EMBEDDING)
            inputs += EMBEDDING

        def torso(outputs: int, gain: float) -> nn.Sequential:
            return nn.Sequential(
                layer(inputs, hidden),
                nn.Tanh(),
                layer(hidden, hidden),
                nn.Tanh(),
                layer(hidden, outputs, gain),
            )

        self.actor = torso(actions, 0.01)
        self.critic = torso(2, 1.0)  # columns: V under gamma, V under gamma'

    def forward(
        self, obs: torch.Tensor, discount: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.conditioned:
            code = torch.tanh(self.embed(discount.reshape(1, 1)))
            obs = torch.cat([obs, code.expand(*obs.shape[:-1], EMBEDDING)], dim=-1)
        values = self.critic(obs)
        return self.actor(obs), values[..., 0], values[..., 1]


def discount_actor_critic(
    template: DiscountActorCritic, params: stacked.Params, obs: torch.Tensor, discount: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``DiscountActorCritic.forward`` for every member: obs ``[P, ..., inputs]``, each
    member's discount ``[P]``."""
    if template.conditioned:
        members = obs.shape[0]
        code = torch.tanh(stacked.linear(discount.reshape(members, 1, 1), params, "embed"))
        code = code.reshape(members, *([1] * (obs.dim() - 2)), EMBEDDING)
        obs = torch.cat([obs, code.expand(*obs.shape[:-1], EMBEDDING)], dim=-1)
    values = stacked.sequential(template.critic, params, obs, "critic.")
    logits = stacked.sequential(template.actor, params, obs, "actor.")
    return logits, values[..., 0], values[..., 1]


class MetaGradientA2C(ActorCriticLoop):
    config: MetaGradientA2CConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.discount = StackedDiscount(
            [config.discount for config in self.configs],
            [config.meta_learning_rate for config in self.configs],
            self.device,
        )
        self.reference = self.member_values("meta_discount")
        self.previous: tuple[stacked.Params, Batch] | None = None
        self.has_previous = torch.zeros(len(self.seeds), dtype=torch.bool, device=self.device)

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        cfg = self.config
        return DiscountActorCritic(inputs, actions, cfg.hidden_size, cfg.condition_on_discount)

    def policy_logits(self, obs: torch.Tensor) -> torch.Tensor:
        condition = self.discount.value.detach()
        return discount_actor_critic(self.template, self.params, obs, condition)[0]

    def _forward(self, params: stacked.Params, batch: Batch, discount: torch.Tensor):
        """Logits, values and outer values ``[T + 1, P, n, ...]`` of the rollout's
        observations and the one after it."""
        obs = torch.cat([batch.data["obs"], batch.last_obs[None]]).transpose(0, 1)
        outputs = discount_actor_critic(self.template, params, obs, discount)
        return tuple(output.transpose(0, 1) for output in outputs)

    def inner_loss(
        self, params: stacked.Params, batch: Batch, discount: torch.Tensor
    ) -> tuple[torch.Tensor, Stats]:
        """A2C's loss (agents/a2c.py's ``a2c_loss``) under the learned gamma ``[P]``, plus
        the outer head's value loss, per member. Returns bootstrap from detached values:
        the parameters get the usual semi-gradient and only gamma sees through the targets."""
        cfg = self.config
        logits, values, outer_values = self._forward(params, batch, discount)
        data = batch.data
        lam = self.member_values("gae_lambda")[:, None]
        advantages, returns = rollout_gae(
            data, values[:-1].detach(), values[-1].detach(), discount[:, None], lam
        )
        valid = data["valid"].float()
        log_probs = torch.log_softmax(logits[:-1], -1)
        taken = log_probs.gather(-1, data["actions"].unsqueeze(-1)).squeeze(-1)
        policy_loss = -stacked.member_mean(taken * advantages, valid)
        value_loss = 0.5 * stacked.member_mean((returns - values[:-1]).pow(2), valid)
        entropy = stacked.member_mean(-(log_probs.exp() * log_probs).sum(-1), valid)
        value_coef = self.member_values("value_coef")
        entropy_coef = self.member_values("entropy_coef")
        loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
        stats = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}
        if cfg.outer_value_head:
            _, returns = rollout_gae(
                data,
                outer_values[:-1].detach(),
                outer_values[-1].detach(),
                self.reference[:, None],
                1.0,
            )
            outer_loss = 0.5 * stacked.member_mean((returns - outer_values[:-1]).pow(2), valid)
            loss = loss + value_coef * outer_loss
        return loss, {key: value.detach() for key, value in stats.items()}

    def meta_objective(self, params: stacked.Params, batch: Batch) -> torch.Tensor:
        """J' ``[P]``: the policy-gradient loss under gamma' (lambda' = 1) on validation data."""
        cfg = self.config
        condition = self.reference if cfg.condition_on_discount else self.discount.value.detach()
        logits, values, outer_values = self._forward(params, batch, condition)
        baseline = outer_values if cfg.outer_value_head else values
        advantages, _ = rollout_gae(
            batch.data,
            baseline[:-1].detach(),
            baseline[-1].detach(),
            self.reference[:, None],
            1.0,
        )
        log_probs = torch.log_softmax(logits[:-1], -1)
        taken = log_probs.gather(-1, batch.data["actions"].unsqueeze(-1)).squeeze(-1)
        return -stacked.member_mean(taken * advantages, batch.data["valid"].float())

    def update(self, batch: Batch) -> Stats:
        scalars: Stats = {}
        params = self.params
        if self.previous is not None and bool(self.has_previous.any()):
            previous_params, previous_batch = self.previous
            outer = self.meta_objective(params, batch)
            v = torch.autograd.grad(outer.sum(), list(params.values()), allow_unused=True)
            inner, _ = self.inner_loss(previous_params, previous_batch, self.discount.value)
            g = torch.autograd.grad(
                inner.sum(), list(previous_params.values()), create_graph=True, allow_unused=True
            )
            active = None if bool(self.has_previous.all()) else self.has_previous
            gradient = self.discount.meta_step(g, v, self.member_values("learning_rate"), active)
            absent = torch.full_like(gradient, float("nan"))
            scalars["meta/gradient"] = torch.where(self.has_previous, gradient, absent)
            scalars["meta/objective"] = torch.where(self.has_previous, outer.detach(), absent)
        self.previous = (
            {name: value.detach().clone().requires_grad_() for name, value in params.items()},
            batch,
        )
        self.has_previous[:] = True
        loss, stats = self.inner_loss(params, batch, self.discount.value.detach())
        self.step_optimizer(loss.sum())
        scalars["meta/discount"] = self.discount.value.detach()
        scalars.update({f"train/{key}": value for key, value in stats.items()})
        return scalars

    def reset_envs(self) -> None:
        """Fresh episodes, and no meta step on the first update: the previous rollout no
        longer precedes the next one (as after a resume, which saves no rollout)."""
        super().reset_envs()
        self.has_previous[:] = False

    def member_state(self, member: int) -> dict[str, Any]:
        # The previous rollout is not saved: the first update after a resume has no meta
        # step, as the first update of a run.
        return {**super().member_state(member), "discount": self.discount.member_state(member)}

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        super().load_member_state(member, state)
        self.discount.load_member_state(member, state["discount"])
        self.has_previous[member] = False
