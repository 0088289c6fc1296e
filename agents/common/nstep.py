"""n-step returns for replay (Sutton 1988; Hessel et al. 2018): fold n rewards into one.

Each transition leaving the accumulator carries the discounted sum of up to n rewards and
the discount to bootstrap with: gamma**m after m folded steps, or 0 when the episode
terminated. A truncated episode still bootstraps from its last observation.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np


class Transitions(NamedTuple):
    """A batch of folded transitions, ready for the replay buffer."""

    observations: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    next_observations: np.ndarray
    bootstrap_discounts: np.ndarray


class NStepAccumulator:
    """Per-environment queues of the last n steps of a batched environment."""

    def __init__(self, num_envs: int, n: int, discount: float) -> None:
        self.n, self.discount = n, discount
        self.queues: list[deque] = [deque() for _ in range(num_envs)]

    def push(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        real: np.ndarray,
    ) -> Transitions | None:
        """Add one batched step (``real`` masks autoreset steps); return what is complete."""
        if self.n == 1:  # nothing to fold: stay vectorised
            if not real.any():
                return None
            bootstrap = self.discount * (1.0 - terminated[real])
            return Transitions(
                observations[real], actions[real], rewards[real], next_observations[real], bootstrap
            )
        out: list[tuple] = []
        for env in np.flatnonzero(real):
            queue = self.queues[env]
            queue.append((observations[env], actions[env], rewards[env]))
            if terminated[env] or truncated[env]:
                end = 0.0 if terminated[env] else 1.0
                while queue:
                    out.append(self._fold(queue, next_observations[env], end))
                    queue.popleft()
            elif len(queue) == self.n:
                out.append(self._fold(queue, next_observations[env], 1.0))
                queue.popleft()
        if not out:
            return None
        return Transitions(*(np.stack(column) for column in zip(*out, strict=True)))

    def _fold(self, queue: deque, next_observation: np.ndarray, end: float) -> tuple:
        total = 0.0
        for k, (_, _, reward) in enumerate(queue):
            total += self.discount**k * reward
        first_observation, first_action, _ = queue[0]
        bootstrap = end * self.discount ** len(queue)
        return first_observation, first_action, total, next_observation, bootstrap

    def reset(self) -> None:
        """Forget unfinished steps (after a resume the episodes start anew)."""
        for queue in self.queues:
            queue.clear()
