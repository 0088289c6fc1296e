"""Small network builders shared by the agents."""

from __future__ import annotations

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
