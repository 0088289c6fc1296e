"""Small network builders shared by the agents: an MLP and the feed-forward actor-critic,
and the actor-critic of a population's members stacked (agents/common/stacked.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from agents.common.stacked import Params, sequential


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


def build_members(build: Callable[[], nn.Module], seeds: Sequence[int]) -> list[nn.Module]:
    """One module per member, each built under ``torch.manual_seed(seed)``: member m starts
    from the weights a lone run with its seed starts from, whatever the other members. The
    global torch generator is left as it was (members draw from their own generators)."""
    modules = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            modules.append(build())
    return modules


def actor_critic(
    template: ActorCritic, params: Params, obs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``ActorCritic.forward`` for every member: obs ``[P, ..., inputs]`` -> logits
    ``[P, ..., actions]`` and values ``[P, ...]``, with stacked parameters (stacked.py)."""
    logits = sequential(template.actor, params, obs, "actor.")
    return logits, sequential(template.critic, params, obs, "critic.").squeeze(-1)
