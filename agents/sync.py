"""Sync (La-MAML's ablation, Gupta et al. 2020): learned per-parameter rates for the
look-ahead steps, as in La-MAML, but the weights take a synchronous SGD step of one
fixed size, not gated by the rates.

On each incoming batch, ``glances`` times: the look-ahead meta-loss
(``agents/common/look_ahead.py``) is backpropagated; alpha takes an SGD step of size
``lr_rates``, the weights one of size ``lr``. The rates shape only the inner steps, so
the meta-gradient the weights follow is what they change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.common.continual import ContinualLearner, check_memory, clip_
from agents.common.look_ahead import LookAheadConfig, glance_losses, init_rates, rate_scalars
from envs.config import bounded


@dataclass
class SyncConfig(LookAheadConfig):
    lr: float = bounded(0.1, 0.0, 10.0, low_open=True, log=True)
    """Step size of the weights' synchronous SGD (the reference code's opt_wt)."""
    lr_rates: float = bounded(0.1, 0.0, 10.0, low_open=True, log=True)
    """Step size of the learning rates' own SGD (the reference code's opt_lr)."""

    def check(self) -> None:
        check_memory("sync", self.memory_size)


class Sync(ContinualLearner):
    config: SyncConfig

    def __init__(self, config: SyncConfig, *args, **kwargs) -> None:
        self.memory_size = config.memory_size
        super().__init__(config, *args, **kwargs)
        self.rates = init_rates(self.params, config.alpha_init)

    def observe(self, x: np.ndarray, y: np.ndarray) -> float:
        cfg = self.config
        for loss in glance_losses(self, self.rates, x, y):
            grads = torch.autograd.grad(loss, [*self.params, *self.rates])
            for tensor, grad in zip([*self.params, *self.rates], grads, strict=True):
                tensor.grad = grad
            clip_(self.params, cfg.grad_clip_norm)
            clip_(self.rates, cfg.grad_clip_norm)
            with torch.no_grad():
                for alpha in self.rates:
                    alpha -= cfg.lr_rates * alpha.grad
                for theta in self.params:
                    theta -= cfg.lr * theta.grad
        return loss.item()

    def extra_scalars(self) -> dict[str, float]:
        return rate_scalars(self.rates)

    def extra_state(self) -> dict:
        return {"rates": [a.detach().clone() for a in self.rates]}

    def load_extra(self, state: dict) -> None:
        with torch.no_grad():
            for alpha, saved in zip(self.rates, state["rates"], strict=True):
                alpha.copy_(saved)
