"""Online self-tuning of the discount by meta-gradients (Xu, van Hasselt & Silver 2018,
"Meta-Gradient Reinforcement Learning", NeurIPS), shared by agents/mg_a2c.py and
agents/meta_dqn.py.

The discount is gamma = sigmoid(eta), so it stays in (0, 1). An inner update
theta' = theta - alpha * g(theta, eta) follows the agent's own loss under gamma; the
meta-objective J' is measured after it, on fresh data and under a fixed reference
discount gamma'. The meta-gradient treats the inner step as plain SGD (as the paper does
for its RMSProp learner):

    dJ'/deta = dJ'/dtheta' . dtheta'/deta = -alpha * v . dg/deta,   v = dJ'/dtheta',

one extra backward pass through the inner gradient g, which is built with create_graph.
eta then takes an Adam step of size ``meta_learning_rate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


class LearnedDiscount:
    """The meta-parameter eta of gamma = sigmoid(eta) and its Adam optimiser."""

    def __init__(self, initial: float, meta_learning_rate: float) -> None:
        initial = min(max(initial, 1e-4), 1.0 - 1e-4)  # sigmoid reaches neither 0 nor 1
        self.eta = torch.tensor(logit(initial), requires_grad=True)
        self.optimizer = torch.optim.Adam([self.eta], lr=meta_learning_rate)

    @property
    def value(self) -> torch.Tensor:
        """gamma as a tensor that carries the gradient to eta."""
        return torch.sigmoid(self.eta)

    def __float__(self) -> float:
        return float(torch.sigmoid(self.eta.detach()))

    def meta_step(
        self,
        inner_grads: Sequence[torch.Tensor | None],
        outer_grads: Sequence[torch.Tensor | None],
        inner_learning_rate: float,
    ) -> float:
        """Step eta along -alpha * v . dg/deta; returns that meta-gradient.

        ``inner_grads`` g must have been built with create_graph from a loss under
        ``self.value``; ``outer_grads`` v are plain gradients of J' for the same parameters.
        """
        dot = sum(
            (g * v.detach()).sum()
            for g, v in zip(inner_grads, outer_grads, strict=True)
            if g is not None and v is not None
        )
        if not isinstance(dot, torch.Tensor) or not dot.requires_grad:
            return 0.0  # the inner loss did not depend on gamma here (e.g. all episodes ended)
        (d_dot,) = torch.autograd.grad(dot, self.eta)
        grad = -inner_learning_rate * d_dot
        self.optimizer.zero_grad(set_to_none=True)
        self.eta.grad = grad.detach()
        self.optimizer.step()
        return float(grad)

    def state_dict(self) -> dict[str, Any]:
        return {"eta": self.eta.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.eta.copy_(state["eta"])
        self.optimizer.load_state_dict(state["optimizer"])


def detached_copy(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's parameters as fresh leaves, for torch.func.functional_call: an inner
    gradient built on them survives the optimiser's in-place step on the module."""
    return {
        name: param.detach().clone().requires_grad_() for name, param in module.named_parameters()
    }
