"""DQN that learns its discount online by meta-gradients (the self-tuning of Xu, van
Hasselt & Silver 2018, "Meta-Gradient Reinforcement Learning", applied to DQN;
agents/common/meta_gradient.py has the algebra, agents/common/q_learning.py the acting,
replay, target networks and loop it shares with DQN, agents/common/episodes.py the
control meta-objective), for a population of members trained as one computation (a lone
run is a population of one).

Every ``meta_interval``-th gradient step is also a meta step: the TD loss under
gamma = sigmoid(eta) on a replay minibatch gives the inner gradient g (built with
create_graph), the optimiser takes its step with it, and eta moves along
-alpha * dJ'/dtheta' . dg/deta, with J' measured at the updated parameters theta'.

``meta_objective`` chooses J':

- ``control`` (default): how well the updated Q-network acts. Its policy is the softmax
  of Q(s, . ; gamma) standardised over the actions (zero mean, unit spread in each state,
  so a larger scale of Q, which a larger gamma brings, earns nothing) over
  ``temperature``; J' is the policy-gradient loss of that policy on
  transitions drawn from the member's most recent complete episodes, with their real
  returns-to-go under ``meta_discount`` (1: undiscounted) less a learned baseline. A
  discount is better here when the TD step it drives makes the actions that were
  followed by high returns more likely; nothing pulls gamma towards gamma'.
- ``td-agreement``: the TD error under the fixed ``meta_discount`` on a fresh replay
  minibatch. It measures agreement with gamma', not return: it is smallest when the
  agent's own targets use gamma' too, so it drives gamma to gamma' whatever gamma' is
  worth on the task (docs/results.md, the foraging group). Kept to reproduce that.

With ``condition_on_discount`` the Q-network sees gamma as one more input (Xu et al.'s
conditioning), so its values follow the discount as it moves. Targets are 1-step, so the
replay stores only whether each transition may bootstrap and the discount is applied
when the minibatch is drawn. Each member has its own eta, reference discount and meta
step size; the members' losses share no parameter, so one backward pass of their sum
gives every member its own gradients.

Logs ``meta/discount`` and ``meta/gradient`` with every training burst (and, for the
control objective, ``meta/objective`` and ``meta/baseline_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from agents.common import stacked
from agents.common.control_discount import ControlDiscount, differentiable_step, take_meta_step
from agents.common.episodes import MetaStats
from agents.common.meta_gradient import StackedDiscount
from agents.common.q_config import QLearningConfig
from agents.common.q_learning import QLearner
from agents.common.replay import ReplaySamples
from envs.config import ConfigError, bounded

META_OBJECTIVES = ("control", "td-agreement")


@dataclass
class MetaDQNConfig(QLearningConfig):
    discount: float = bounded(0.99, 0.0, 1.0, low_open=True, high_open=True, per_member=True)
    """Initial discount gamma; then learned online."""
    n_step: int = bounded(1, 1, 1)
    """1-step targets: the learned discount applies to each transition when it is drawn."""
    meta_objective: str = "control"
    """control (policy gradient of the updated Q's softmax on recent episodes' returns) or
    td-agreement (TD error under meta_discount: pulls gamma to meta_discount)."""
    meta_discount: float = bounded(1.0, 0.0, 1.0, per_member=True)
    """Reference discount gamma' of the meta-objective (fixed; 1 = undiscounted returns)."""
    meta_learning_rate: float = bounded(1e-3, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size of the discount's logit (small: the meta-gradient of one step is
    noisy, and many small steps average it)."""
    meta_interval: int = bounded(1, 1, 1_000_000)
    """Gradient steps per meta step."""
    condition_on_discount: bool = True
    """Feed gamma to the Q-network as an input."""
    temperature: float = bounded(1.0, 0.0, low_open=True, log=True, per_member=True)
    """Softmax temperature of the control objective's policy, in units of the spread of a
    state's Q-values over its actions."""
    meta_batch_size: int = bounded(1024, 1, 65536)
    """Transitions of recent complete episodes per meta step (control objective)."""
    meta_episode_capacity: int = bounded(2048, 1, 1_000_000)
    """Latest complete-episode transitions a member keeps for the control objective."""

    FORMER: ClassVar[dict[str, Any]] = {
        "meta_objective": "td-agreement",
        "condition_on_discount": False,
    }
    """What a run saved before these fields existed trained with."""

    def check(self) -> None:
        super().check()
        if self.meta_objective not in META_OBJECTIVES:
            raise ConfigError(
                f"meta_objective={self.meta_objective!r} is not one of {', '.join(META_OBJECTIVES)}"
            )


class MetaDQN(QLearner):
    configs: list[MetaDQNConfig]
    accumulator_discount = 1.0  # the replay keeps 1 - terminated; gamma comes at sampling

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.discount = StackedDiscount(
            self.per_member("discount"), self.per_member("meta_learning_rate"), self.device
        )
        self.meta_discounts = self.member_tensor(self.per_member("meta_discount"))
        self.gradient_steps_done = 0
        self.meta_stats = MetaStats()
        self.control: ControlDiscount | None = None
        if cfg.meta_objective == "control":
            meta_discounts = self.per_member("meta_discount")
            self.control = ControlDiscount.of(self, self.discount, meta_discounts)
            self.meta_stats = self.control.stats

    def shapes(self) -> tuple[int, int, int]:
        return int(self.config.condition_on_discount), self.num_actions, 0

    def q_values(
        self,
        params: stacked.Params,
        observations: torch.Tensor,
        discount: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Q ``[P, ..., actions]`` of observations ``[P, ..., obs]``, conditioned on each
        member's ``discount`` ``[P]`` (its current gamma, without gradient, if None) when
        ``condition_on_discount``."""
        if self.config.condition_on_discount:
            if discount is None:
                discount = self.discount.value.detach()
            # A product, not an expand: its backward sums each member's contiguous row
            # (an expand's sums a strided slice, in an order that depends on P).
            ones = observations.new_ones(observations.shape[:-1])
            gamma = (stacked.member_view(discount, ones) * ones).unsqueeze(-1)
            observations = torch.cat([observations, gamma], -1)
        return super().q_values(params, observations)

    def observe(self, observations, actions, rewards, done, real) -> None:
        if self.control:
            self.control.push(observations, actions, rewards, done, real)

    def learn(self, total_steps: int, *, tick_seconds: float | None = None):
        if self.control:
            self.control.episodes.clear_open()  # learn starts fresh episodes
        yield from super().learn(total_steps, tick_seconds=tick_seconds)

    def minibatches_per_burst(self) -> int:
        """One per gradient step and, for td-agreement, a second (the validation batch)
        per meta step."""
        if self.control:
            return self.config.gradient_steps
        interval, done = self.config.meta_interval, self.gradient_steps_done
        meta_steps = (done + self.config.gradient_steps) // interval - done // interval
        return self.config.gradient_steps + meta_steps

    def td_loss_under(
        self, params: stacked.Params, batch: ReplaySamples, discount: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's TD loss ``[P]`` under its ``discount`` ``[P]`` (in the target and,
        when conditioned, as the online network's input) with these parameters, and Q of
        the taken actions ``[P, batch]``."""
        with torch.no_grad():
            next_value = self.next_state_values(batch)
        bootstrap = stacked.member_view(discount, batch.bootstrap_discounts)
        target = batch.rewards + bootstrap * batch.bootstrap_discounts * next_value
        q_values = self.q_values(params, batch.observations, discount)
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
        loss, q_taken = self.td_loss_under(self.q_params, batch, self.discount.value.detach())
        self.gradient_step(loss)
        return loss.detach(), q_taken.detach().mean(-1)

    def meta_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The TD step with its gradient g built with create_graph, then eta's step along
        the meta-gradient of J' at the updated parameters (agents/common/control_discount.py)."""
        batch = self.next_batch()
        inner, q_taken, g = differentiable_step(
            self, lambda params: self.td_loss_under(params, batch, self.discount.value)
        )
        if self.control:
            outer, active = self.control.objective(self.updated_values, self.config.meta_batch_size)
        else:
            validation = self.next_batch()
            outer, _ = self.td_loss_under(self.q_params, validation, self.meta_discounts)
            active = None
        take_meta_step(
            self.discount, self.meta_stats, outer, active, g, self.parameters, self.learning_rates
        )
        return inner.detach(), q_taken.detach().mean(-1)

    def updated_values(self, observations: torch.Tensor, _tags: None = None) -> torch.Tensor:
        """Q of the updated network, whose softmax the control objective measures."""
        return self.q_values(self.q_params, observations)

    def burst_scalars(self) -> list[dict[str, float]]:
        return self.meta_stats.burst_scalars(self.discount.values())

    def member_state(self, member: int) -> dict[str, Any]:
        state = {
            **super().member_state(member),
            "discount": self.discount.member_state(member),
            "gradient_steps_done": self.gradient_steps_done,
        }
        if self.control:
            state |= self.control.member_state(member)
        return state

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        super().load_member_state(member, state)
        self.discount.load_member_state(member, state["discount"])
        self.gradient_steps_done = int(state["gradient_steps_done"])
        if self.control and "episodes" in state:
            self.control.load_member_state(member, state)
