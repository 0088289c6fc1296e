"""Small network builders shared by the agents: an MLP and the feed-forward actor-critic."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def mlp(inputs: int, outputs: int, hidden_size: int, hidden_layers: int) -> nn.Sequential:
    """A ReLU multilayer perceptron with ``hidden_layers`` layers of ``hidden_size`` units."""
    layers: list[nn.Module] = []
    width = inputs
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_size), nn.ReLU()]
        width = hidden_size
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


def layer(inputs: int, outputs: int, gain: float = np.sqrt(2)) -> nn.Linear:
    """A linear layer with orthogonal weights of this gain and zero bias (CleanRL's init)."""
    linear = nn.Linear(inputs, outputs)
    nn.init.orthogonal_(linear.weight, gain)
    nn.init.zeros_(linear.bias)
    return linear


class ActorCritic(nn.Module):
    """Separate actor and critic, two tanh layers each (PPO's and A2C's network)."""

    def __init__(self, inputs: int, actions: int, hidden: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            layer(inputs, hidden),
            nn.Tanh(),
            layer(hidden, hidden),
            nn.Tanh(),
            layer(hidden, 1, 1.0),
        )
        self.actor = nn.Sequential(
            layer(inputs, hidden),
            nn.Tanh(),
            layer(hidden, hidden),
            nn.Tanh(),
            layer(hidden, actions, 0.01),
        )

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), self.critic(obs).squeeze(-1)
