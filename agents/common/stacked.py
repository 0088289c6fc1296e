"""Networks and optimisers of P population members stacked into single tensors.

A population's member m has exactly the network a lone agent with its seed would build
(``stack`` takes P ``nn.Module`` instances, each built under its member's seed), but
every parameter is stored once as a tensor of shape ``[P, *shape]``, leaves with
``requires_grad``, and the forward pass is one batched matrix product per layer
(``torch.baddbmm``) for all members. Small networks are overhead-bound on a CPU, so P
members cost far less than P lone steps.

Layout: a stacked parameter keeps torch's own layout (``Linear.weight`` is ``[P, out, in]``),
so member m's slice ``{name: tensor[m]}`` *is* that member's ``nn.Module.state_dict()``:
checkpoints of one member load into a lone module and the other way round.

``StackedAdam`` is torch's Adam (same update, same state layout per member) with a
learning rate per member; ``clip_grad_norm`` clips each member's gradient by its own
global norm, as ``nn.utils.clip_grad_norm_`` does for one network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

Params = dict[str, torch.Tensor]
"""Stacked parameters by the name they have in the member's ``nn.Module``."""


def stack(modules: Sequence[nn.Module], device: torch.device | str = "cpu") -> Params:
    """The parameters of P identically shaped modules as ``[P, ...]`` leaf tensors."""
    names = [name for name, _ in modules[0].named_parameters()]
    stacked: Params = {}
    for name in names:
        values = [dict(module.named_parameters())[name].detach() for module in modules]
        stacked[name] = torch.stack(values).to(device).requires_grad_()
    return stacked


def member_state(params: Params, member: int) -> dict[str, torch.Tensor]:
    """Member ``member``'s parameters as its module's ``state_dict`` (CPU copies)."""
    return {name: value[member].detach().cpu().clone() for name, value in params.items()}


@torch.no_grad()
def load_member_state(params: Params, member: int, state: dict[str, torch.Tensor]) -> None:
    """Copy one module's ``state_dict`` into member ``member``; RuntimeError when a name is
    missing or a shape differs (as ``nn.Module.load_state_dict`` raises)."""
    missing = sorted(set(params) - set(state))
    if missing:
        raise RuntimeError(f"missing parameters: {', '.join(missing)}")
    for name, value in params.items():
        given = torch.as_tensor(state[name])
        if given.shape != value.shape[1:]:
            raise RuntimeError(
                f"size mismatch for {name}: checkpoint has {tuple(given.shape)}, "
                f"this network has {tuple(value.shape[1:])}"
            )
        value[member].copy_(given)


def select(params: Params, members: torch.Tensor) -> Params:
    """New leaves holding only ``members`` (an index tensor), in that order."""
    return {
        name: value.detach()[members].clone().requires_grad_() for name, value in params.items()
    }


def linear(x: torch.Tensor, params: Params, name: str) -> torch.Tensor:
    """``nn.Linear`` for every member: x ``[P, N, in]`` -> ``[P, N, out]``."""
    weight, bias = params[f"{name}.weight"], params[f"{name}.bias"]
    if weight.shape[1] == 1:
        # With one output torch takes a matrix-vector path whose rounding depends on P, so a
        # member's value head drifted from its lone run; a zero second output keeps every
        # member on the matrix-matrix path, which computes each member the same for any P.
        weight = torch.cat([weight, torch.zeros_like(weight)], 1)
        bias = torch.cat([bias, torch.zeros_like(bias)], 1)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))[..., :1]
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class _Tanh(torch.autograd.Function):
    """tanh(x) = 2 sigmoid(2x) - 1: on this project's CPUs torch's sigmoid kernel is 10-20x
    faster than its tanh, which was a fifth of a 64-member actor-critic iteration. Agrees
    with torch.tanh to 2e-7; twice differentiable (mg-a2c's meta-gradient needs it)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.mul(x, 2.0)
        torch.sigmoid_(y)
        y.mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


def tanh(x: torch.Tensor) -> torch.Tensor:
    return _Tanh.apply(x)


ACTIVATIONS = {nn.ReLU: torch.relu, nn.Tanh: tanh}


def sequential(
    template: nn.Sequential, params: Params, x: torch.Tensor, prefix: str = ""
) -> torch.Tensor:
    """Run a stack of ``nn.Sequential`` (Linear, ReLU, Tanh) networks shaped like
    ``template`` on x ``[P, ..., in]`` (any batch dimensions after the member axis)."""
    shape = x.shape
    h = x.reshape(shape[0], -1, shape[-1])
    for index, child in enumerate(template):
        if isinstance(child, nn.Linear):
            h = linear(h, params, f"{prefix}{index}")
        elif type(child) in ACTIVATIONS:
            h = ACTIVATIONS[type(child)](h)
        else:
            raise TypeError(f"cannot stack a {type(child).__name__} layer")
    return h.reshape(*shape[:-1], h.shape[-1])


def member_view(values: torch.Tensor | float | Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """Per-member values ``[P]`` shaped to broadcast against a ``[P, ...]`` tensor."""
    values = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return values.reshape(-1, *([1] * (like.dim() - 1)))


def member_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The mean of each member's valid entries of ``[T, P, n]`` values, ``[P]``.

    Each member's entries are summed as one contiguous row: a strided reduction over
    dims (0, 2) adds a member's entries in an order that depends on P, so member m of a
    population drifted from the population of one by float rounding (a grid point of a
    32-member study differed from its lone run after 11,000 steps)."""
    members = values.shape[1]

    def rows(x: torch.Tensor) -> torch.Tensor:
        return x.transpose(0, 1).reshape(members, -1)

    return rows(values * valid).sum(1) / rows(valid).sum(1).clamp(min=1.0)


def clip_grad_norm(grads: Sequence[torch.Tensor], max_norm: torch.Tensor) -> torch.Tensor:
    """Scale each member's gradients in place so their global L2 norm is at most its
    ``max_norm`` ``[P]`` (``nn.utils.clip_grad_norm_``'s rule); returns the norms ``[P]``."""
    # [P, parameters], summed along contiguous rows: the same order for any P
    squares = torch.stack([g.flatten(1).square().sum(1) for g in grads], dim=1).sum(1)
    norms = squares.sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    torch._foreach_mul_(list(grads), [member_view(scale, g) for g in grads])
    return norms


def one_member(saved: torch.Tensor, stacked_like: torch.Tensor) -> torch.Tensor:
    """A member's slice as saved: as it is, or from a population of one's ``[1, ...]``
    tensor (sac and ddpg checkpoints of before their populations kept a context encoder
    stacked in a torch optimiser)."""
    if saved.dim() == stacked_like.dim() and saved.shape[0] == 1:
        return saved[0]
    return saved


class StackedAdam:
    """Adam (Kingma & Ba 2015, torch's variant) over stacked parameters, with one learning
    rate per member (``lr``, a ``[P]`` tensor that callers may rewrite between steps) and
    one step count per member. A step with ``active`` leaves the other members untouched."""

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: torch.Tensor | Sequence[float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        members = self.params[0].shape[0]
        device = self.params[0].device
        self.lr = torch.as_tensor(lr, dtype=torch.float64, device=device).reshape(members).clone()
        self.betas, self.eps = betas, eps
        self.steps = torch.zeros(members, dtype=torch.float64, device=device)
        self.exp_avg = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params
        ]
        self.exp_avg_sq = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params
        ]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor], active: torch.Tensor | None = None) -> None:
        """One Adam step with these gradients (same order as ``params``)."""
        beta1, beta2 = self.betas
        grads = list(grads)
        if active is not None:
            keep = [(~active).reshape(-1, *([1] * (g.dim() - 1))) for g in grads]
            old = ([m.clone() for m in self.exp_avg], [v.clone() for v in self.exp_avg_sq])
            before = [p.clone() for p in self.params]
        self.steps += 1 if active is None else active.to(self.steps.dtype)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        bias1 = 1 - beta1**self.steps
        bias2_sqrt = (1 - beta2**self.steps).sqrt()
        step_size = (self.lr / bias1).to(self.params[0].dtype)
        denominators = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denominators, [member_view(bias2_sqrt, d) for d in denominators])
        torch._foreach_add_(denominators, self.eps)
        updates = torch._foreach_div(self.exp_avg, denominators)
        torch._foreach_mul_(updates, [member_view(-step_size, u) for u in updates])
        torch._foreach_add_(self.params, updates)
        if active is not None:
            for tensors, saved in (
                (self.exp_avg, old[0]),
                (self.exp_avg_sq, old[1]),
                (self.params, before),
            ):
                for tensor, previous, mask in zip(tensors, saved, keep, strict=True):
                    tensor.copy_(torch.where(mask, previous, tensor))

    # --- one member's state in torch.optim.Adam's layout ---------------------------------
    def member_state(self, member: int) -> dict[str, Any]:
        """Member ``member``'s optimiser state as ``torch.optim.Adam.state_dict()`` of its
        module's parameters (in ``named_parameters`` order)."""
        state = {
            index: {
                "step": torch.tensor(float(self.steps[member])),
                "exp_avg": m[member].detach().cpu().clone(),
                "exp_avg_sq": v[member].detach().cpu().clone(),
            }
            for index, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq, strict=True))
            if self.steps[member] > 0
        }
        group = {
            "lr": float(self.lr[member]),
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": 0,
            "amsgrad": False,
            "params": list(range(len(self.params))),
        }
        return {"state": state, "param_groups": [group]}

    @torch.no_grad()
    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        """Take one member's state from ``member_state`` or ``torch.optim.Adam.state_dict()``
        (the learning rate stays this population's: callers set ``lr``)."""
        entries = state.get("state", {})
        if not entries:
            self.steps[member] = 0
            for m, v in zip(self.exp_avg, self.exp_avg_sq, strict=True):
                m[member].zero_()
                v[member].zero_()
            return
        for index, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq, strict=True)):
            entry = entries[index] if index in entries else entries[str(index)]
            m[member].copy_(one_member(entry["exp_avg"], m))
            v[member].copy_(one_member(entry["exp_avg_sq"], v))
            self.steps[member] = float(entry["step"])

    def select(self, members: torch.Tensor, params: Sequence[torch.Tensor]) -> StackedAdam:
        """The optimiser of the population cut down to ``members`` (its new ``params``)."""
        chosen = StackedAdam(params, self.lr[members], self.betas, self.eps)
        chosen.steps = self.steps[members].clone()
        chosen.exp_avg = [m[members].clone() for m in self.exp_avg]
        chosen.exp_avg_sq = [v[members].clone() for v in self.exp_avg_sq]
        return chosen
