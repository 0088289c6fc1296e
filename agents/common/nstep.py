"""n-step returns for replay (Sutton 1988; Hessel et al. 2018): fold n rewards into one.

Each transition leaving the accumulator carries the discounted sum of up to n rewards and
the discount to bootstrap with: gamma**m after m folded steps, or 0 when the episode
terminated. A truncated episode still bootstraps from its last observation.

The queues of all envs are arrays ``[envs, n, ...]`` folded with a few NumPy operations per
step, whatever the number of envs: a population steps P members' envs as one batch, and a
Python loop over them would cost more than its gradient steps. Each env may have its own
discount (a member's).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Transitions(NamedTuple):
    """A batch of folded transitions, ready for the replay buffer, in env order (and in
    time order within an env); ``envs`` says which env each came from."""

    observations: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    next_observations: np.ndarray
    bootstrap_discounts: np.ndarray
    envs: np.ndarray


class NStepAccumulator:
    """Per-environment queues of the last n steps of a batched environment; ``discount`` is
    one number or one per env."""

    def __init__(self, num_envs: int, n: int, discount: float | np.ndarray) -> None:
        self.n, self.num_envs = n, num_envs
        self.discount = np.broadcast_to(np.asarray(discount, dtype=np.float64), (num_envs,))
        self.powers = self.discount[:, None] ** np.arange(n + 1)  # gamma**k, [envs, n + 1]
        self.observations: np.ndarray | None = None  # [envs, n, ...], shaped at the first push
        self.actions = np.zeros((num_envs, n), dtype=np.int64)
        self.rewards = np.zeros((num_envs, n))  # zero past each queue's length
        self.length = np.zeros(num_envs, dtype=np.int64)

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
        if self.observations is None:
            self.observations = np.zeros((self.num_envs, self.n, *observations.shape[1:]))
            self.observations = self.observations.astype(observations.dtype)
        envs = np.flatnonzero(real)
        if len(envs) == 0:
            return None
        slot = self.length[envs]
        self.observations[envs, slot] = observations[envs]
        self.actions[envs, slot] = actions[envs]
        self.rewards[envs, slot] = rewards[envs]
        self.length[envs] += 1
        done = (terminated | truncated) & real
        full = real & ~done & (self.length == self.n)
        # A full queue emits its oldest step; an ended episode emits everything queued.
        emit = np.zeros((self.num_envs, self.n), dtype=bool)
        emit[full, 0] = True
        emit[done] = np.arange(self.n) < self.length[done, None]
        rows, steps = np.nonzero(emit)  # env order, then time order
        if len(rows) == 0:
            return None
        # Suffix sums sum_k gamma**k r_(i+k) of every queue position (Horner, back to front).
        folded = self.rewards.copy()
        for i in range(self.n - 2, -1, -1):
            folded[:, i] += self.discount * folded[:, i + 1]
        folded_steps = self.length[rows] - steps
        end = np.where(terminated[rows] & done[rows], 0.0, 1.0)
        out = Transitions(
            self.observations[rows, steps],
            self.actions[rows, steps],
            folded[rows, steps],
            next_observations[rows],
            end * self.powers[rows, folded_steps],
            rows,
        )
        self.length[done] = 0
        self.rewards[done] = 0.0
        if full.any():  # drop the oldest step of the full queues
            self.observations[full, :-1] = self.observations[full, 1:]
            self.actions[full, :-1] = self.actions[full, 1:]
            self.rewards[full, :-1] = self.rewards[full, 1:]
            self.rewards[full, -1] = 0.0
            self.length[full] -= 1
        return out

    def reset(self) -> None:
        """Forget unfinished steps (after a resume the episodes start anew)."""
        self.length[:] = 0
        self.rewards[:] = 0.0
