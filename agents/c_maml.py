"""C-MAML (Gupta et al. 2020, the paper's meta-learning baseline): the look-ahead
meta-loss of La-MAML with one fixed inner learning rate for every parameter, and a
synchronous SGD step on the weights.

On each incoming batch, ``glances`` times: the look-ahead meta-loss
(``agents/common/look_ahead.py``, rates all ``alpha_init`` and never learned) is
backpropagated and the weights take an SGD step of size ``lr`` along its first-order
meta-gradient, which rewards weights whose next steps on the stream do not hurt the
memory's tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.common.continual import ContinualLearner, check_memory, clip_
from agents.common.look_ahead import LookAheadConfig, glance_losses
from envs.config import bounded


@dataclass
class CMAMLConfig(LookAheadConfig):
    alpha_init: float = bounded(0.03, 0.0, low_open=True)
    """Learning rate of the inner (look-ahead) steps, the same for every parameter."""
    lr: float = bounded(0.1, 0.0, 10.0, low_open=True, log=True)
    """Step size of the weights' SGD (the reference code's opt_wt)."""

    def check(self) -> None:
        check_memory("c-maml", self.memory_size)


class CMAML(ContinualLearner):
    config: CMAMLConfig

    def __init__(self, config: CMAMLConfig, *args, **kwargs) -> None:
        self.memory_size = config.memory_size
        super().__init__(config, *args, **kwargs)
        self.rates = [torch.full_like(p, config.alpha_init) for p in self.params]

    def observe(self, x: np.ndarray, y: np.ndarray) -> float:
        cfg = self.config
        for loss in glance_losses(self, self.rates, x, y):
            grads = torch.autograd.grad(loss, self.params)
            for theta, grad in zip(self.params, grads, strict=True):
                theta.grad = grad
            clip_(self.params, cfg.grad_clip_norm)
            with torch.no_grad():
                for theta in self.params:
                    theta -= cfg.lr * theta.grad
        return loss.item()
