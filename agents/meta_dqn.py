"""DQN that learns its discount online by meta-gradients (the self-tuning of Xu, van
Hasselt & Silver 2018, "Meta-Gradient Reinforcement Learning", applied to DQN's TD loss;
agents/common/meta_gradient.py has the algebra, agents/common/q_learning.py the acting,
replay, target network and loop it shares with DQN).

Every ``meta_interval``-th gradient step is also a meta step: the TD loss under
gamma = sigmoid(eta) on a replay minibatch gives the inner gradient g (built with
create_graph), the optimiser takes its step with it, and the meta-objective is the TD
error under the fixed reference discount ``meta_discount`` on a fresh minibatch, at the
updated parameters. Targets are 1-step, so the replay stores only whether each transition
may bootstrap and the discount is applied when the minibatch is drawn.

Logs ``meta/discount`` with every training burst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from agents.common.meta_gradient import LearnedDiscount, detached_copy
from agents.common.q_learning import QLearner, QLearningConfig
from agents.common.replay import ReplaySamples
from envs.config import bounded


@dataclass
class MetaDQNConfig(QLearningConfig):
    discount: float = bounded(0.99, 0.0, 1.0, low_open=True, high_open=True)
    """Initial discount gamma; then learned online."""
    n_step: int = bounded(1, 1, 1)
    """1-step targets: the learned discount applies to each transition when it is drawn."""
    meta_discount: float = bounded(0.99, 0.0, 1.0)
    """Reference discount gamma' of the meta-objective (fixed)."""
    meta_learning_rate: float = bounded(1e-2, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the discount's logit."""
    meta_interval: int = bounded(4, 1, 1_000_000)
    """Gradient steps per meta step."""


class MetaDQN(QLearner):
    config: MetaDQNConfig
    accumulator_discount = 1.0  # the replay keeps 1 - terminated; gamma comes at sampling

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.discount = LearnedDiscount(cfg.discount, cfg.meta_learning_rate)
        self.gradient_steps_done = 0
        self.meta_gradients: list[float] = []

    def td_loss_under(
        self, params: dict[str, torch.Tensor], batch: ReplaySamples, discount: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The TD loss under ``discount`` with these parameters, and Q of the taken actions."""
        with torch.no_grad():
            next_value = self.next_state_values(batch)
        target = batch.rewards + discount * batch.bootstrap_discounts * next_value
        q_values = functional_call(self.q_network, params, (batch.observations,))
        q_taken = q_values.gather(1, batch.actions[:, None]).squeeze(1)
        return self.td_error(q_taken, target), q_taken

    def train_step(self) -> tuple[float, float]:
        """A TD step under the learned gamma; every ``meta_interval``-th is also a meta step.
        Returns (TD loss, mean Q of the taken actions)."""
        self.gradient_steps_done += 1
        if self.gradient_steps_done % self.config.meta_interval:
            return self.td_step()
        return self.meta_step()

    def td_step(self) -> tuple[float, float]:
        """DQN's TD step (agents/dqn.py) with 1-step targets r + gamma * next value."""
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.rng)
        with torch.no_grad():
            bootstrap = float(self.discount) * batch.bootstrap_discounts  # 0 after termination
            target = batch.rewards + bootstrap * self.next_state_values(batch)
        q_taken = self.q_network(batch.observations).gather(1, batch.actions[:, None]).squeeze(1)
        loss = self.td_error(q_taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_network.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        return loss.item(), q_taken.mean().item()

    def meta_step(self) -> tuple[float, float]:
        """The TD step with its gradient g built with create_graph, then eta's step along
        the meta-gradient of the TD error under gamma' on a fresh minibatch."""
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.rng)
        before = detached_copy(self.q_network)
        inner, q_taken = self.td_loss_under(before, batch, self.discount.value)
        g = torch.autograd.grad(inner, list(before.values()), create_graph=True)
        self.optimizer.zero_grad(set_to_none=True)
        for param, grad in zip(self.q_network.parameters(), g, strict=True):
            param.grad = grad.detach().clone()
        nn.utils.clip_grad_norm_(self.q_network.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        validation = self.buffer.sample(cfg.batch_size, self.rng)
        after = dict(self.q_network.named_parameters())
        outer, _ = self.td_loss_under(after, validation, torch.tensor(cfg.meta_discount))
        v = torch.autograd.grad(outer, list(after.values()))
        self.meta_gradients.append(self.discount.meta_step(g, v, cfg.learning_rate))
        return inner.item(), q_taken.detach().mean().item()

    def burst_scalars(self) -> dict[str, float]:
        scalars = {"meta/discount": float(self.discount)}
        if self.meta_gradients:
            scalars["meta/gradient"] = sum(self.meta_gradients) / len(self.meta_gradients)
            self.meta_gradients.clear()
        return scalars

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "discount": self.discount.state_dict(),
            "gradient_steps_done": self.gradient_steps_done,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.discount.load_state_dict(state["discount"])
        self.gradient_steps_done = int(state["gradient_steps_done"])
