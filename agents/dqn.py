"""Deep Q-Network (Mnih et al. 2015) with double-DQN targets (van Hasselt et al. 2016)
and n-step returns (as in Rainbow, Hessel et al. 2018).

This file is DQN's update: a TD step on a replay minibatch towards
r + gamma**n * Q_target(s', argmax_a Q(s', a)). Acting, replay, the target network, the
loop and the defaults (with how they were chosen) are agents/common/q_learning.py's, which
meta-gradient DQN (agents/meta_dqn.py) shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.common.q_learning import QLearner, QLearningConfig


@dataclass
class DQNConfig(QLearningConfig):
    """DQN's hyperparameters: the shared Q-learning fields, nothing of its own."""


class DQN(QLearner):
    """DQN over a batched environment of discrete actions."""

    config: DQNConfig

    def train_step(self) -> tuple[float, float]:
        """One TD update on a replay minibatch; returns (loss, mean Q of taken actions)."""
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.rng)
        with torch.no_grad():  # n-step return + gamma**n (0 after a termination) * next value
            target = batch.rewards + batch.bootstrap_discounts * self.next_state_values(batch)
        q_taken = self.q_network(batch.observations).gather(1, batch.actions[:, None]).squeeze(1)
        loss = self.td_error(q_taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_network.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        return loss.item(), q_taken.mean().item()
