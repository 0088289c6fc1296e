"""The replay buffers of a population's members in preallocated torch tensors
``[members, capacity, ...]`` (no per-sample Python objects), with each member's part saved
and loaded in the lone buffer's layout."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch


class ReplaySamples(NamedTuple):
    """Minibatches of transitions, ``[members, ...]`` first.

    ``rewards`` may be n-step discounted sums; ``bootstrap_discounts`` is what multiplies
    the next state's value in the target (gamma**n, or 0 after a termination).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    bootstrap_discounts: torch.Tensor

    def step(self, index: int) -> ReplaySamples:
        """Gradient step ``index`` of a burst's samples ``[members, steps, batch, ...]``."""
        return ReplaySamples(*(field[:, index] for field in self))


FIELDS = ("observations", "next_observations", "actions", "rewards", "bootstrap_discounts")


class StackedReplay:
    """One circular buffer of a fixed capacity per member, filled in batches."""

    def __init__(
        self,
        members: int,
        capacity: int,
        observation_shape: tuple[int, ...],
        device: torch.device | str = "cpu",
    ) -> None:
        self.members, self.capacity, self.device = members, capacity, torch.device(device)
        # Uninitialised on purpose: only rows below a member's size are ever read, and the
        # OS maps untouched pages lazily, so 64 members' 1M-transition buffers cost memory
        # as they fill.
        shape = (members, capacity)
        self.observations = torch.empty((*shape, *observation_shape), device=self.device)
        self.next_observations = torch.empty_like(self.observations)
        self.actions = torch.empty(shape, dtype=torch.int64, device=self.device)
        self.rewards = torch.empty(shape, device=self.device)
        self.bootstrap_discounts = torch.empty(shape, device=self.device)
        self.position = np.zeros(members, dtype=np.int64)
        self.size = np.zeros(members, dtype=np.int64)

    def add(
        self,
        members: np.ndarray,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        bootstrap_discounts: np.ndarray,
    ) -> None:
        """Append transitions (first axis) to the buffers of ``members`` (ascending, one per
        transition), each member's in order, overwriting its oldest when full."""
        counts = np.bincount(members, minlength=self.members)
        first = np.cumsum(counts) - counts
        rank = np.arange(len(members)) - first[members]
        slots = (self.position[members] + rank) % self.capacity
        index = (torch.from_numpy(members).to(self.device), torch.from_numpy(slots).to(self.device))
        values = (observations, next_observations, actions, rewards, bootstrap_discounts)
        for name, value in zip(FIELDS, values, strict=True):
            tensor = getattr(self, name)
            tensor[index] = torch.as_tensor(value, dtype=tensor.dtype).to(self.device)
        self.position = (self.position + counts) % self.capacity
        self.size = np.minimum(self.size + counts, self.capacity)

    def sample_indices(
        self, rngs: list[np.random.Generator], steps: int, batch_size: int
    ) -> np.ndarray:
        """Rows ``[members, steps, batch_size]`` for ``steps`` minibatches, drawn uniformly
        from each member's filled part with its own generator, one call per member."""
        sizes = zip(rngs, self.size, strict=True)
        return np.stack([rng.integers(0, size, (steps, batch_size)) for rng, size in sizes])

    def gather(self, rows: np.ndarray) -> ReplaySamples:
        """The transitions at ``rows`` ``[members, ...]`` of each member's buffer."""
        index = torch.from_numpy(rows).to(self.device)
        members = torch.arange(self.members, device=self.device).reshape(
            -1, *([1] * (index.dim() - 1))
        )
        return ReplaySamples(
            self.observations[members, index],
            self.actions[members, index],
            self.rewards[members, index],
            self.next_observations[members, index],
            self.bootstrap_discounts[members, index],
        )

    # --- one member's buffer, in the lone buffer's layout -------------------------------
    def member_state(self, member: int) -> dict[str, Any]:
        """Only the filled part is saved, so a young run's checkpoint stays small."""
        filled = slice(0, int(self.size[member]))
        state: dict[str, Any] = {
            name: getattr(self, name)[member, filled].cpu().clone() for name in FIELDS
        }
        return state | {"position": int(self.position[member]), "size": int(self.size[member])}

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        size = int(state["size"])
        if size > self.capacity:
            raise RuntimeError(
                f"the checkpoint's replay holds {size} transitions, more than this "
                f"buffer's capacity of {self.capacity}"
            )
        for name in FIELDS:
            tensor = getattr(self, name)
            tensor[member, :size] = torch.as_tensor(state[name], dtype=tensor.dtype)
        self.position[member] = int(state["position"])
        self.size[member] = size
