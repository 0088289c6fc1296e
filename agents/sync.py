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

from agents.common.continual import check_memory, clipped_grads_
from agents.common.look_ahead import LearnedRates, LookAheadConfig, glance_losses
from envs.config import bounded


@dataclass
class SyncConfig(LookAheadConfig):
    lr: float = bounded(0.1, 0.0, 10.0, low_open=True, log=True)
    """Step size of the weights' synchronous SGD (the reference code's opt_wt)."""
    lr_rates: float = bounded(0.1, 0.0, 10.0, low_open=True, log=True)
    """Step size of the learning rates' own SGD (the reference code's opt_lr)."""

    def check(self) -> None:
        check_memory("sync", self.memory_size)


class Sync(LearnedRates):
    config: SyncConfig

    def observe(self, x: np.ndarray, y: np.ndarray) -> float:
        cfg = self.config
        for loss in glance_losses(self, self.rates, x, y):
            clipped_grads_(loss, self.params, self.rates, max_norm=cfg.grad_clip_norm)
            with torch.no_grad():
                for alpha in self.rates:
                    alpha -= cfg.lr_rates * alpha.grad
                for theta in self.params:
                    theta -= cfg.lr * theta.grad
        return loss.item()
