"""Online SGD: the continual-learning floor. Plain SGD on each incoming batch as it
arrives, no memory, no meta-learning: what catastrophic forgetting looks like."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from agents.common.continual import ContinualConfig, ContinualLearner, clip_, forward
from envs.config import bounded


@dataclass
class OnlineSGDConfig(ContinualConfig):
    lr: float = bounded(0.03, 0.0, 10.0, low_open=True, log=True)
    """SGD step size."""


class OnlineSGD(ContinualLearner):
    config: OnlineSGDConfig

    def observe(self, x: np.ndarray, y: np.ndarray) -> float:
        bx, by = torch.from_numpy(x), torch.from_numpy(y)
        for _ in range(self.config.glances):
            loss = F.cross_entropy(forward(self.params, bx), by)
            grads = torch.autograd.grad(loss, self.params)
            for p, g in zip(self.params, grads, strict=True):
                p.grad = g
            clip_(self.params, self.config.grad_clip_norm)
            with torch.no_grad():
                for p in self.params:
                    p -= self.config.lr * p.grad
        return loss.item()
