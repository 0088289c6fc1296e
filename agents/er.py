"""Experience replay (ER) with a reservoir memory (Riemer et al. 2019, Algorithm 4; the
reference code's ``eralg4``): every update is an SGD step on the incoming batch together
with a sample of the memory; the batch then enters the memory by reservoir sampling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from agents.common.continual import (
    ContinualConfig,
    ContinualLearner,
    batch_with_memory,
    check_memory,
    clip_,
    forward,
)
from envs.config import bounded


@dataclass
class ERConfig(ContinualConfig):
    glances: int = bounded(5, 1, 100)
    """Updates on each incoming batch, each with a fresh memory sample (as the
    meta-learners' 5 glances on MNIST, so every replaying learner sees a batch as often)."""
    lr: float = bounded(0.03, 0.0, 10.0, low_open=True, log=True)
    """SGD step size."""
    memory_size: int = bounded(200, 0, 100_000)
    """Samples in the reservoir memory (the paper: 200)."""
    replay_batch_size: int = bounded(10, 1, 10_000)
    """Memory samples replayed beside each incoming batch."""

    def check(self) -> None:
        check_memory("er", self.memory_size)


class ER(ContinualLearner):
    config: ERConfig

    def __init__(self, config: ERConfig, *args, **kwargs) -> None:
        self.memory_size = config.memory_size
        super().__init__(config, *args, **kwargs)

    def observe(self, x: np.ndarray, y: np.ndarray) -> float:
        for _ in range(self.config.glances):
            bx, by = batch_with_memory(self.memory, self.config.replay_batch_size, x, y, self.rng)
            loss = F.cross_entropy(forward(self.params, bx), by)
            grads = torch.autograd.grad(loss, self.params)
            for p, g in zip(self.params, grads, strict=True):
                p.grad = g
            clip_(self.params, self.config.grad_clip_norm)
            with torch.no_grad():
                for p in self.params:
                    p -= self.config.lr * p.grad
        self.memory.add(x, y, self.rng)
        return loss.item()
