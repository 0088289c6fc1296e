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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from agents.common.actor_critic_loop import ActorCriticConfig, ActorCriticLoop
from agents.common.meta_gradient import LearnedDiscount, detached_copy
from agents.common.networks import layer
from agents.common.returns import rollout_gae
from agents.common.rollout import Batch
from envs.config import bounded

EMBEDDING = 16
"""Width of the learned embedding of gamma when the network is conditioned on it."""


@dataclass
class MetaGradientA2CConfig(ActorCriticConfig):
    discount: float = bounded(0.99, 0.0, 1.0, low_open=True, high_open=True)
    """Initial discount gamma; then learned online."""
    meta_discount: float = bounded(0.99, 0.0, 1.0)
    """Reference discount gamma' of the meta-objective (fixed)."""
    meta_learning_rate: float = bounded(1e-2, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the discount's logit."""
    condition_on_discount: bool = False
    """Feed a learned embedding of gamma to the policy and values."""
    outer_value_head: bool = True
    """Give the meta-objective its own value head trained on gamma' returns."""


class DiscountActorCritic(nn.Module):
    """Actor, inner critic V_gamma and outer critic V_gamma', optionally fed gamma."""

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


class MetaGradientA2C(ActorCriticLoop):
    config: MetaGradientA2CConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.discount = LearnedDiscount(cfg.discount, cfg.meta_learning_rate)
        self.reference = torch.tensor(cfg.meta_discount)
        self.previous: tuple[dict[str, torch.Tensor], Batch] | None = None

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        cfg = self.config
        return DiscountActorCritic(inputs, actions, cfg.hidden_size, cfg.condition_on_discount)

    def policy_logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs, self.discount.value.detach())[0]

    def _forward(self, params, batch: Batch, discount: torch.Tensor):
        obs = torch.cat([batch.data["obs"], batch.last_obs[None]])
        return functional_call(self.net, params, (obs, discount))

    def inner_loss(
        self, params: dict[str, torch.Tensor], batch: Batch, discount: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """A2C's loss (agents/a2c.py's ``a2c_loss``) under the learned gamma, plus the outer
        head's value loss. Returns bootstrap from detached values: the parameters get the
        usual semi-gradient and only gamma sees through the targets."""
        cfg = self.config
        logits, values, outer_values = self._forward(params, batch, discount)
        data = batch.data
        advantages, returns = rollout_gae(
            data, values[:-1].detach(), values[-1].detach(), discount, cfg.gae_lambda
        )
        valid = data["valid"].float()
        count = valid.sum().clamp(min=1.0)
        dist = torch.distributions.Categorical(logits=logits[:-1])
        policy_loss = -(dist.log_prob(data["actions"]) * advantages * valid).sum() / count
        value_loss = 0.5 * ((returns - values[:-1]).pow(2) * valid).sum() / count
        entropy = (dist.entropy() * valid).sum() / count
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
        stats = {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
        }
        if cfg.outer_value_head:
            _, returns = rollout_gae(
                batch.data,
                outer_values[:-1].detach(),
                outer_values[-1].detach(),
                cfg.meta_discount,
                1.0,
            )
            valid = batch.data["valid"].float()
            outer_loss = 0.5 * ((returns - outer_values[:-1]).pow(2) * valid).sum()
            loss = loss + cfg.value_coef * outer_loss / valid.sum().clamp(min=1.0)
        return loss, stats

    def meta_objective(self, params: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        """J': the policy-gradient loss under gamma' (lambda' = 1) on validation data."""
        cfg = self.config
        condition = self.reference if cfg.condition_on_discount else self.discount.value.detach()
        logits, values, outer_values = self._forward(params, batch, condition)
        baseline = outer_values if cfg.outer_value_head else values
        advantages, _ = rollout_gae(
            batch.data, baseline[:-1].detach(), baseline[-1].detach(), self.reference, 1.0
        )
        valid = batch.data["valid"].float()
        logp = torch.distributions.Categorical(logits=logits[:-1]).log_prob(batch.data["actions"])
        return -(logp * advantages * valid).sum() / valid.sum().clamp(min=1.0)

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        scalars: dict[str, float] = {}
        params = dict(self.net.named_parameters())
        if self.previous is not None:
            previous_params, previous_batch = self.previous
            outer = self.meta_objective(params, batch)
            v = torch.autograd.grad(outer, list(params.values()), allow_unused=True)
            inner, _ = self.inner_loss(previous_params, previous_batch, self.discount.value)
            g = torch.autograd.grad(
                inner, list(previous_params.values()), create_graph=True, allow_unused=True
            )
            scalars["meta/gradient"] = self.discount.meta_step(g, v, cfg.learning_rate)
            scalars["meta/objective"] = outer.item()
        self.previous = (detached_copy(self.net), batch)
        loss, stats = self.inner_loss(params, batch, self.discount.value.detach())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        scalars["meta/discount"] = float(self.discount)
        scalars.update({f"train/{key}": value for key, value in stats.items()})
        return scalars

    def state_dict(self) -> dict[str, Any]:
        # The previous rollout is not saved: the first update after a resume has no meta
        # step, as the first update of a run.
        return {**super().state_dict(), "discount": self.discount.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.discount.load_state_dict(state["discount"])
        self.previous = None
