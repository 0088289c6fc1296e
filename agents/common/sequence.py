"""Policies over meta-episodes and how they play them, shared by the meta-RL agents.

A sequence policy maps inputs (T, B, D) and a carried state to logits (T, B, A), values
(T, B) and the new state: a recurrent net carries its hidden state, an attentive one
(SNAIL) the inputs seen so far. Playing calls it one step at a time; training calls it
once on whole meta-episodes from an empty state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class RecurrentPolicy(nn.Module):
    """A GRU or LSTM over meta-episode inputs with policy and value heads.

    With ``separate_critic`` the value head reads a second recurrent core of its own (as
    the RL^2 authors' baseline network did), so the value loss, whose scale grows with the
    return's, does not share the policy's memory and gradient norm; the carried state is
    then the pair of both cores' states.
    """

    def __init__(
        self,
        inputs: int,
        actions: int,
        hidden: int,
        cell: str = "gru",
        separate_critic: bool = False,
    ) -> None:
        super().__init__()
        kind = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.core = kind(inputs, hidden)
        self.critic_core = kind(inputs, hidden) if separate_critic else None
        self.policy = nn.Linear(hidden, actions)
        self.value = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.policy.weight, 0.01)
        nn.init.zeros_(self.policy.bias)

    def forward(self, inputs: torch.Tensor, state: Any = None):
        if self.critic_core is None:
            features, state = self.core(inputs, state)
            return self.policy(features), self.value(features).squeeze(-1), state
        policy_state, critic_state = state if state is not None else (None, None)
        features, policy_state = self.core(inputs, policy_state)
        critic_features, critic_state = self.critic_core(inputs, critic_state)
        value = self.value(critic_features).squeeze(-1)
        return self.policy(features), value, (policy_state, critic_state)


@torch.no_grad()
def play_meta_episodes(net: nn.Module, env, greedy: bool = False) -> dict[str, torch.Tensor]:
    """One meta-episode on every task of a batched env.

    Returns inputs, actions, log-probabilities, values, rewards and the base observation
    each step arrived in (``env.arrived``), each stacked over time with shape (T, tasks, ...).
    """
    device = next(net.parameters()).device
    obs = env.reset()
    state = None
    record: dict[str, list] = {
        key: [] for key in ("obs", "actions", "logp", "values", "rewards", "arrived")
    }
    for _ in range(env.horizon):
        x = torch.from_numpy(obs)[None].to(device)
        logits, value, state = net(x, state)
        dist = torch.distributions.Categorical(logits=logits[0])
        action = logits[0].argmax(-1) if greedy else dist.sample()
        obs, reward, _, _ = env.step(action.cpu().numpy())
        record["obs"].append(x[0])
        record["actions"].append(action)
        record["logp"].append(dist.log_prob(action))
        record["values"].append(value[0])
        record["rewards"].append(torch.from_numpy(np.asarray(reward, dtype=np.float32)).to(device))
        record["arrived"].append(torch.from_numpy(env.arrived).to(device))
    return {key: torch.stack(values) for key, values in record.items()}
