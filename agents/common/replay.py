"""A uniform replay buffer in preallocated torch tensors (no per-sample Python objects)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class ReplaySamples(NamedTuple):
    """A minibatch of transitions.

    ``rewards`` may be n-step discounted sums; ``bootstrap_discounts`` is what multiplies
    the next state's value in the target (gamma**n, or 0 after a termination).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    bootstrap_discounts: torch.Tensor


FIELDS = ("observations", "next_observations", "actions", "rewards", "bootstrap_discounts")


class ReplayBuffer:
    """Circular buffer of transitions of a fixed capacity, filled in batches."""

    def __init__(self, capacity: int, observation_shape: tuple[int, ...]) -> None:
        self.capacity = capacity
        # Uninitialised on purpose: only rows below ``size`` are ever read, and the OS maps
        # untouched pages lazily, so a 1M-transition buffer costs memory as it fills.
        self.observations = torch.empty((capacity, *observation_shape), dtype=torch.float32)
        self.next_observations = torch.empty_like(self.observations)
        self.actions = torch.empty(capacity, dtype=torch.int64)
        self.rewards = torch.empty(capacity, dtype=torch.float32)
        self.bootstrap_discounts = torch.empty(capacity, dtype=torch.float32)
        self.position = 0
        self.size = 0

    def add(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        bootstrap_discounts: np.ndarray,
    ) -> None:
        """Append a batch of transitions (first axis), overwriting the oldest when full."""
        count = len(actions)
        index = torch.from_numpy((self.position + np.arange(count)) % self.capacity)
        self.observations[index] = torch.as_tensor(observations, dtype=torch.float32)
        self.next_observations[index] = torch.as_tensor(next_observations, dtype=torch.float32)
        self.actions[index] = torch.as_tensor(actions, dtype=torch.int64)
        self.rewards[index] = torch.as_tensor(rewards, dtype=torch.float32)
        self.bootstrap_discounts[index] = torch.as_tensor(bootstrap_discounts, dtype=torch.float32)
        self.position = (self.position + count) % self.capacity
        self.size = min(self.size + count, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplaySamples:
        index = torch.from_numpy(rng.integers(0, self.size, batch_size))
        return ReplaySamples(
            self.observations[index],
            self.actions[index],
            self.rewards[index],
            self.next_observations[index],
            self.bootstrap_discounts[index],
        )

    def state_dict(self) -> dict[str, object]:
        """Only the filled part is saved, so a young run's checkpoint stays small."""
        filled = slice(0, self.size)
        return {
            "observations": self.observations[filled].clone(),
            "next_observations": self.next_observations[filled].clone(),
            "actions": self.actions[filled].clone(),
            "rewards": self.rewards[filled].clone(),
            "bootstrap_discounts": self.bootstrap_discounts[filled].clone(),
            "position": self.position,
            "size": self.size,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        size = int(state["size"])  # type: ignore[arg-type]
        for name in FIELDS:
            getattr(self, name)[:size] = state[name]
        self.position = int(state["position"])  # type: ignore[arg-type]
        self.size = size
