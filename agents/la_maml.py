"""La-MAML (Gupta, Yadav & Paull 2020): look-ahead MAML with a learned learning rate per
parameter and asynchronous weight updates gated by those rates.

On each incoming batch, ``glances`` times: the look-ahead meta-loss
(``agents/common/look_ahead.py``: one inner SGD step per incoming sample with rates
relu(alpha), the meta-batch's loss after each) is backpropagated; alpha takes an SGD
step of size ``lr_rates`` along its meta-gradient first, and then the weights move along
theirs by the new rates, clipped at zero: theta <- theta - relu(alpha) * g_theta. A
parameter whose updates interfere with the memory's tasks sees its rate fall, and at
zero it stops moving (the clipping the paper requires: a rate below zero never turns a
step into ascent). The batch enters the reservoir memory during the first glance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from agents.common.continual import ContinualLearner, check_memory, clip_
from agents.common.look_ahead import LookAheadConfig, glance_losses, init_rates, rate_scalars
from envs.config import bounded


@dataclass
class LaMAMLConfig(LookAheadConfig):
    lr_rates: float = bounded(0.3, 0.0, 10.0, low_open=True, log=True)
    """Step size of the learning rates' own SGD (the reference code's opt_lr)."""

    def check(self) -> None:
        check_memory("la-maml", self.memory_size)


def la_maml_step(
    params: list[torch.Tensor],
    rates: list[torch.Tensor],
    meta_loss: torch.Tensor,
    lr_rates: float,
    clip: float,
) -> None:
    """One La-MAML update from a meta-loss: rates first, then the weights by the new
    rates clipped at zero. Gradients of each group are clipped to norm ``clip``."""
    grads = torch.autograd.grad(meta_loss, [*params, *rates])
    for tensor, grad in zip([*params, *rates], grads, strict=True):
        tensor.grad = grad
    clip_(params, clip)
    clip_(rates, clip)
    with torch.no_grad():
        for alpha in rates:
            alpha -= lr_rates * alpha.grad
        for theta, alpha in zip(params, rates, strict=True):
            theta -= F.relu(alpha) * theta.grad


class LaMAML(ContinualLearner):
    config: LaMAMLConfig

    def __init__(self, config: LaMAMLConfig, *args, **kwargs) -> None:
        self.memory_size = config.memory_size
        super().__init__(config, *args, **kwargs)
        self.rates = init_rates(self.params, config.alpha_init)

    def observe(self, x: np.ndarray, y: np.ndarray) -> float:
        cfg = self.config
        for loss in glance_losses(self, self.rates, x, y):
            la_maml_step(self.params, self.rates, loss, cfg.lr_rates, cfg.grad_clip_norm)
        return loss.item()

    def extra_scalars(self) -> dict[str, float]:
        return rate_scalars(self.rates)

    def extra_state(self) -> dict:
        return {"rates": [a.detach().clone() for a in self.rates]}

    def load_extra(self, state: dict) -> None:
        with torch.no_grad():
            for alpha, saved in zip(self.rates, state["rates"], strict=True):
                alpha.copy_(saved)
