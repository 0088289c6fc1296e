"""DQN that learns its discount online by meta-gradients (the self-tuning of Xu, van
Hasselt & Silver 2018, "Meta-Gradient Reinforcement Learning", applied to DQN's TD loss;
agents/common/meta_gradient.py has the algebra, agents/common/q_learning.py the acting,
replay, target networks and loop it shares with DQN), for a population of members trained
as one computation (a lone run is a population of one).

Every ``meta_interval``-th gradient step is also a meta step: the TD loss under
gamma = sigmoid(eta) on a replay minibatch gives the inner gradient g (built with
create_graph), the optimiser takes its step with it, and the meta-objective is the TD
error under the fixed reference discount ``meta_discount`` on a fresh minibatch, at the
updated parameters. Targets are 1-step, so the replay stores only whether each transition
may bootstrap and the discount is applied when the minibatch is drawn. Each member has its
own eta, reference discount and meta step size; the members' losses share no parameter,
so one backward pass of their sum gives every member its own gradients.

Logs ``meta/discount`` with every training burst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from agents.common import stacked
from agents.common.meta_gradient import StackedDiscount
from agents.common.q_learning import QLearner, QLearningConfig
from agents.common.replay import ReplaySamples
from envs.config import bounded


@dataclass
class MetaDQNConfig(QLearningConfig):
    discount: float = bounded(0.99, 0.0, 1.0, low_open=True, high_open=True, per_member=True)
    """Initial discount gamma; then learned online."""
    n_step: int = bounded(1, 1, 1)
    """1-step targets: the learned discount applies to each transition when it is drawn."""
    meta_discount: float = bounded(0.99, 0.0, 1.0, per_member=True)
    """Reference discount gamma' of the meta-objective (fixed)."""
    meta_learning_rate: float = bounded(1e-2, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size of the discount's logit."""
    meta_interval: int = bounded(4, 1, 1_000_000)
    """Gradient steps per meta step."""


class MetaDQN(QLearner):
    configs: list[MetaDQNConfig]
    accumulator_discount = 1.0  # the replay keeps 1 - terminated; gamma comes at sampling

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.discount = StackedDiscount(
            self.per_member("discount"), self.per_member("meta_learning_rate"), self.device
        )
        self.meta_discounts = self.member_tensor(self.per_member("meta_discount"))
        self.gradient_steps_done = 0
        self.meta_gradients: list[torch.Tensor] = []

    def minibatches_per_burst(self) -> int:
        """One per gradient step and a second (the validation batch) per meta step."""
        interval, done = self.config.meta_interval, self.gradient_steps_done
        meta_steps = (done + self.config.gradient_steps) // interval - done // interval
        return self.config.gradient_steps + meta_steps

    def td_loss_under(
        self, params: stacked.Params, batch: ReplaySamples, discount: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's TD loss ``[P]`` under its ``discount`` ``[P]`` with these
        parameters, and Q of the taken actions ``[P, batch]``."""
        with torch.no_grad():
            next_value = self.next_state_values(batch)
        bootstrap = stacked.member_view(discount, batch.bootstrap_discounts)
        target = batch.rewards + bootstrap * batch.bootstrap_discounts * next_value
        q_values = self.q_values(params, batch.observations)
        q_taken = q_values.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        return self.td_error(q_taken, target), q_taken

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A TD step under the learned gamma; every ``meta_interval``-th is also a meta step.
        Returns (TD loss, mean Q of the taken actions), each ``[P]``."""
        self.gradient_steps_done += 1
        if self.gradient_steps_done % self.config.meta_interval:
            return self.td_step()
        return self.meta_step()

    def td_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """DQN's TD step (agents/dqn.py) with 1-step targets r + gamma * next value."""
        batch = self.next_batch()
        with torch.no_grad():  # 0 after a termination
            discount = stacked.member_view(self.discount.value, batch.bootstrap_discounts)
            bootstrap = discount * batch.bootstrap_discounts
            target = batch.rewards + bootstrap * self.next_state_values(batch)
        q_values = self.q_values(self.q_params, batch.observations)
        q_taken = q_values.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        loss = self.td_error(q_taken, target)
        self.gradient_step(loss)
        return loss.detach(), q_taken.detach().mean(-1)

    def meta_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The TD step with its gradient g built with create_graph, then eta's step along
        the meta-gradient of the TD error under gamma' on a fresh minibatch."""
        batch = self.next_batch()
        before = {name: p.detach().clone().requires_grad_() for name, p in self.q_params.items()}
        inner, q_taken = self.td_loss_under(before, batch, self.discount.value)
        g = torch.autograd.grad(inner.sum(), list(before.values()), create_graph=True)
        self.gradient_step(inner.detach(), [grad.detach().clone() for grad in g])
        validation = self.next_batch()
        outer, _ = self.td_loss_under(self.q_params, validation, self.meta_discounts)
        v = torch.autograd.grad(outer.sum(), self.parameters)
        learning_rates = torch.as_tensor(self.learning_rates, device=self.device)
        self.meta_gradients.append(self.discount.meta_step(g, v, learning_rates))
        return inner.detach(), q_taken.detach().mean(-1)

    def burst_scalars(self) -> list[dict[str, float]]:
        scalars = [{"meta/discount": value} for value in self.discount.values()]
        if self.meta_gradients:
            means = torch.stack(self.meta_gradients).cpu().double().mean(0).tolist()
            for member_scalars, mean in zip(scalars, means, strict=True):
                member_scalars["meta/gradient"] = mean
            self.meta_gradients.clear()
        return scalars

    def member_state(self, member: int) -> dict[str, Any]:
        return {
            **super().member_state(member),
            "discount": self.discount.member_state(member),
            "gradient_steps_done": self.gradient_steps_done,
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        super().load_member_state(member, state)
        self.discount.load_member_state(member, state["discount"])
        self.gradient_steps_done = int(state["gradient_steps_done"])
