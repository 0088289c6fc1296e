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

``StackedDiscount`` is the same for the P members of a population: eta is ``[P]``, the
dot products v . g are taken per member, and each member's eta has its own Adam step size.
Members never mix: member m's meta-gradient is what a population of one computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from agents.common.stacked import StackedAdam, member_view


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def initial_logit(initial: float) -> float:
    """eta of an initial discount, kept inside (0, 1): sigmoid reaches neither end."""
    return logit(min(max(initial, 1e-4), 1.0 - 1e-4))


class StackedDiscount:
    """The meta-parameters eta ``[P]`` of P members' discounts gamma = sigmoid(eta), with
    Adam per member (``StackedAdam``: a step size per member, torch's Adam otherwise).

    ``member_state(m)`` is the layout lone runs saved before populations (``eta`` a 0-dim
    tensor, ``optimizer`` torch.optim.Adam's state of that one parameter), so their
    checkpoints load into any member and the other way round."""

    def __init__(
        self,
        initial: Sequence[float],
        meta_learning_rate: Sequence[float],
        device: torch.device | str = "cpu",
    ) -> None:
        etas = [initial_logit(value) for value in initial]
        self.eta = torch.tensor(etas, dtype=torch.float32, device=device).requires_grad_()
        self.optimizer = StackedAdam([self.eta], list(meta_learning_rate))

    @property
    def value(self) -> torch.Tensor:
        """gamma ``[P]`` as a tensor that carries the gradient to eta."""
        return torch.sigmoid(self.eta)

    def values(self) -> list[float]:
        """Each member's gamma as a float."""
        return torch.sigmoid(self.eta.detach()).tolist()

    def meta_step(
        self,
        inner_grads: Sequence[torch.Tensor | None],
        outer_grads: Sequence[torch.Tensor | None],
        inner_learning_rate: torch.Tensor | float | Sequence[float],
        active: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Step each member's eta along -alpha_m * v_m . dg_m/deta_m; returns those
        meta-gradients ``[P]`` (0 for members outside ``active``, a bool ``[P]``, which
        take no step at all, as a lone run without a meta step).

        ``inner_grads`` g (stacked ``[P, ...]``) must have been built with create_graph
        from a loss under ``self.value``; ``outer_grads`` v are plain gradients of J' for
        the same stacked parameters, member m's from member m's own objective.
        """
        dots = [
            (g * v.detach()).flatten(1).sum(1)
            for g, v in zip(inner_grads, outer_grads, strict=True)
            if g is not None and v is not None
        ]
        members = self.eta.shape[0]
        dot = torch.stack(dots).sum(0) if dots else None
        if dot is None or not dot.requires_grad:
            # the inner loss did not depend on gamma here (e.g. all episodes ended)
            return torch.zeros(members, device=self.eta.device)
        # Members do not interact, so the gradient of the sum is each member's own.
        (d_dot,) = torch.autograd.grad(dot.sum(), self.eta)
        alpha = member_view(inner_learning_rate, d_dot).expand(members)
        grad = (-alpha * d_dot).detach()
        if active is None:
            self.optimizer.step([grad])
            return grad
        grad = torch.where(active, grad, torch.zeros_like(grad))
        self.step_members([grad], active)
        return grad

    @torch.no_grad()
    def step_members(self, grads: Sequence[torch.Tensor], active: torch.Tensor) -> None:
        """An Adam step of the ``active`` members only (the others keep eta, moments and
        step count); eta is ``[P]``, so saving and restoring it costs nothing."""
        adam = self.optimizer
        saved = [t.clone() for t in (self.eta, adam.steps, adam.exp_avg[0], adam.exp_avg_sq[0])]
        adam.step(grads)
        for tensor, before in zip(
            (self.eta, adam.steps, adam.exp_avg[0], adam.exp_avg_sq[0]), saved, strict=True
        ):
            tensor.copy_(torch.where(active, tensor, before))

    def member_state(self, member: int) -> dict[str, Any]:
        return {
            "eta": self.eta.detach()[member].cpu().clone(),
            "optimizer": self.optimizer.member_state(member),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.eta[member] = torch.as_tensor(state["eta"]).reshape(())
        self.optimizer.load_member_state(member, state["optimizer"])
