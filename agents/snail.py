"""SNAIL: a Simple Neural AttentIve meta-Learner (Mishra et al. 2018), trained with PPO
over whole meta-episodes (agents/common/meta_ppo.py).

Temporal-convolution blocks (dense blocks of gated, causal, dilated convolutions with
dilations 1, 2, 4, ... up to the meta-episode length) interleaved with causal soft
attention read the whole meta-episode so far; each block appends its output channels to
its input. As in the paper's bandit and MDP experiments: TC, attention, TC, attention,
then policy and value heads. While playing, the carried state is the inputs seen so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from agents.common.meta_ppo import MetaPPO, MetaPPOConfig
from envs.config import bounded


@dataclass
class SNAILConfig(MetaPPOConfig):
    filters: int = bounded(32, 1, 1024)
    """Channels each dense block adds."""
    key_size: int = bounded(32, 1, 1024)
    """Size of attention keys and queries."""
    value_size: int = bounded(32, 1, 1024)
    """Size of attention values (channels each attention block adds)."""


class DenseBlock(nn.Module):
    """Gated causal dilated convolution (kernel 2) whose output is appended to its input."""

    def __init__(self, channels: int, dilation: int, filters: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.conv = nn.Conv1d(channels, 2 * filters, kernel_size=2, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        out = self.conv(F.pad(x, (self.dilation, 0)))
        filt, gate = out.chunk(2, dim=1)
        return torch.cat([x, torch.tanh(filt) * torch.sigmoid(gate)], dim=1)


class TCBlock(nn.Module):
    def __init__(self, channels: int, length: int, filters: int) -> None:
        super().__init__()
        blocks = []
        for i in range(max(1, math.ceil(math.log2(length)))):
            blocks.append(DenseBlock(channels, 2**i, filters))
            channels += filters
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class AttentionBlock(nn.Module):
    """Causal single-head soft attention whose read is appended to its input."""

    def __init__(self, channels: int, key_size: int, value_size: int) -> None:
        super().__init__()
        self.query = nn.Linear(channels, key_size)
        self.key = nn.Linear(channels, key_size)
        self.value = nn.Linear(channels, value_size)
        self.scale = 1.0 / math.sqrt(key_size)
        self.out_channels = channels + value_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        seq = x.transpose(1, 2)  # (B, T, C)
        logits = self.query(seq) @ self.key(seq).transpose(1, 2) * self.scale
        length = seq.shape[1]
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        weights = logits.masked_fill(future, float("-inf")).softmax(dim=-1)
        read = weights @ self.value(seq)
        return torch.cat([x, read.transpose(1, 2)], dim=1)


class SNAILPolicy(nn.Module):
    def __init__(self, inputs: int, actions: int, length: int, config: SNAILConfig) -> None:
        super().__init__()
        tc1 = TCBlock(inputs, length, config.filters)
        att1 = AttentionBlock(tc1.out_channels, config.key_size, config.value_size)
        tc2 = TCBlock(att1.out_channels, length, config.filters)
        att2 = AttentionBlock(tc2.out_channels, config.key_size, config.value_size)
        self.body = nn.Sequential(tc1, att1, tc2, att2)
        self.policy = nn.Linear(att2.out_channels, actions)
        self.value = nn.Linear(att2.out_channels, 1)
        nn.init.orthogonal_(self.policy.weight, 0.01)
        nn.init.zeros_(self.policy.bias)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None):
        """inputs (T, B, D); ``state`` holds the earlier inputs of the same meta-episodes."""
        sequence = inputs if state is None else torch.cat([state, inputs])
        features = self.body(sequence.permute(1, 2, 0)).permute(2, 0, 1)  # (T_all, B, C)
        features = features[-inputs.shape[0] :]
        return self.policy(features), self.value(features).squeeze(-1), sequence


class SNAIL(MetaPPO):
    config: SNAILConfig

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        return SNAILPolicy(inputs, actions, self.env.horizon, self.config)
