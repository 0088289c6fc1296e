"""RL^2: a recurrent policy meta-trained across tasks (Duan et al. 2016), trained with PPO
and GAE (agents/common/meta_ppo.py) instead of the paper's TRPO.

A GRU reads the meta-episode inputs (observation, previous action one-hot, reward,
trial-done flag, normalised time). Its hidden state is kept across the trials of one task
and reset between tasks, so on a new task the policy explores and exploits inside one
meta-episode.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from agents.common.meta_ppo import MetaPPO, MetaPPOConfig
from agents.common.sequence import RecurrentPolicy
from envs.config import bounded


@dataclass
class RL2Config(MetaPPOConfig):
    hidden_size: int = bounded(128, 1, 4096)
    """Units of the GRU."""
    separate_critic: bool = False
    """Give the value head a GRU of its own instead of sharing the policy's."""


class RL2(MetaPPO):
    config: RL2Config

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        cfg = self.config
        return RecurrentPolicy(
            inputs, actions, cfg.hidden_size, cell="gru", separate_critic=cfg.separate_critic
        )
