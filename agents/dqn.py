"""Deep Q-Network (Mnih et al. 2015) with double-DQN targets (van Hasselt et al. 2016)
and n-step returns (as in Rainbow, Hessel et al. 2018), for a population of members
trained as one computation (a lone run is a population of one).

This file is DQN's update: a TD step on a replay minibatch towards
r + gamma**n * Q_target(s', argmax_a Q(s', a)), for every member at once. Acting, replay,
the target networks and the loop are agents/common/q_learning.py's, the defaults (with how
they were chosen) agents/common/q_config.py's, which meta-gradient DQN (agents/meta_dqn.py)
shares. What DQN sees of a contextual family's dynamics (hidden, explicit, learned,
predictive, probing) is agents/common/context_modes.py's; with probing, each TD step is
followed by a step of EPI's dynamics models and probing policy on the same minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agents.common.context_modes import ContextFields
from agents.common.q_config import QLearningConfig
from agents.common.q_learning import QLearner


@dataclass
class DQNConfig(ContextFields, QLearningConfig):
    """DQN's hyperparameters: the shared Q-learning fields and what it sees of the
    dynamics of a contextual family (agents/common/context_modes.py)."""


class DQN(QLearner):
    """DQN over each member's batched environment of discrete actions."""

    configs: list[DQNConfig]

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One TD update of every member on its own replay minibatch; returns (loss, mean Q
        of the taken actions), each ``[P]``."""
        batch = self.next_batch()
        with torch.no_grad():  # n-step return + gamma**n (0 after a termination) * next value
            target = batch.rewards + batch.bootstrap_discounts * self.next_state_values(batch)
        q_values = self.q_values(self.q_params, batch.observations)
        q_taken = q_values.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        loss = self.td_error(q_taken, target)
        self.gradient_step(loss)
        if self.inputs.probe_steps:  # EPI: the dynamics models and the probing policy too
            x = batch.observations
            self.inputs.dynamics_step(self.template, self.q_params, x, self.max_grad_norm)
        return loss.detach(), q_taken.detach().mean(-1)
