"""The look-ahead meta-loss that ``c-maml``, ``sync`` and ``la-maml`` share (Gupta et al.
2020, Algorithm 1): each one's own step on the gradients it leaves is in its file.

Starting from the current weights, take one SGD step per incoming sample, in turn, each
with per-parameter rates ``relu(alpha)``; after each step, the loss of the look-ahead
weights on the meta-batch (memory samples and the incoming batch). The meta-loss is the
mean of those losses. Backpropagated, it gives the weights their (first-order) meta
gradient and ``alpha`` its gradient through the inner steps: d L_meta / d alpha =
-sum_k g_inner_k * d L_meta / d theta_k, so a rate grows where the inner gradient
agrees with the meta-batch's gradient and shrinks where they conflict. The inner
gradients are first-order (detached), as in the reference code's MNIST runs
(``second_order`` off); ``relu`` clips the rates at zero, and a rate below zero gets no
gradient through it, so that parameter stops moving until nothing else moves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from agents.common.continual import ContinualConfig, batch_with_memory, forward

if TYPE_CHECKING:
    from agents.common.continual import ContinualLearner
from envs.config import bounded


@dataclass
class LookAheadConfig(ContinualConfig):
    glances: int = bounded(5, 1, 100)
    """Meta-updates on each incoming batch (La-MAML's MNIST runs: 5)."""
    memory_size: int = bounded(200, 0, 100_000)
    """Samples in the reservoir memory the meta-batch draws from (the paper: 200)."""
    replay_batch_size: int = bounded(10, 1, 10_000)
    """Memory samples in each meta-batch, beside the incoming batch."""
    alpha_init: float = bounded(0.15, 0.0, low_open=True)
    """Initial per-parameter learning rate of the inner (look-ahead) steps."""


def init_rates(params: list[torch.Tensor], alpha_init: float) -> list[torch.Tensor]:
    """One learning rate per parameter, all ``alpha_init``, as leaf tensors."""
    return [torch.full_like(p, alpha_init).requires_grad_() for p in params]


def look_ahead_loss(
    params: list[torch.Tensor],
    rates: list[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    meta_x: torch.Tensor,
    meta_y: torch.Tensor,
    clip: float,
) -> torch.Tensor:
    """The meta-loss of one glance: inner steps on the samples of (x, y) one at a time,
    the meta-batch's loss after each, averaged. Differentiable in ``params`` and ``rates``."""
    fast = params
    losses = []
    for i in range(len(x)):
        detached = [w.detach().requires_grad_() for w in fast]
        inner = F.cross_entropy(forward(detached, x[i : i + 1]), y[i : i + 1])
        grads = torch.autograd.grad(inner, detached)
        fast = [
            w - g.clamp(-clip, clip) * F.relu(a) for w, g, a in zip(fast, grads, rates, strict=True)
        ]
        losses.append(F.cross_entropy(forward(fast, meta_x), meta_y))
    return torch.stack(losses).mean()


def glance_losses(
    learner: ContinualLearner, rates: list[torch.Tensor], x: np.ndarray, y: np.ndarray
) -> Iterator[torch.Tensor]:
    """The look-ahead meta-loss of each of the config's ``glances`` at an incoming batch
    (shuffled, with memory samples), for the learner to take its own step on before the
    next; the batch enters the memory after the first glance's step."""
    cfg = learner.config
    for glance in range(cfg.glances):
        order = learner.rng.permutation(len(x))
        gx, gy = x[order], y[order]
        meta_x, meta_y = batch_with_memory(
            learner.memory, cfg.replay_batch_size, gx, gy, learner.rng
        )
        yield look_ahead_loss(
            learner.params, rates, torch.from_numpy(gx), torch.from_numpy(gy),
            meta_x, meta_y, cfg.grad_clip_norm,
        )  # fmt: skip
        if glance == 0:
            learner.memory.add(x, y, learner.rng)


def rate_scalars(rates: list[torch.Tensor]) -> dict[str, float]:
    """``meta/lr_mean`` (of the clipped rates relu(alpha)) and ``meta/lr_zero_fraction``
    (the share of parameters whose rate is clipped to zero)."""
    with torch.no_grad():
        flat = torch.cat([a.reshape(-1) for a in rates])
        return {
            "meta/lr_mean": float(F.relu(flat).mean()),
            "meta/lr_zero_fraction": float((flat <= 0).float().mean()),
        }
