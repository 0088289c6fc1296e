"""The replay buffers of a population's members in preallocated torch tensors
``[members, capacity, ...]`` (no per-sample Python objects), with each member's part saved
and loaded in the lone buffer's layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch


class ReplaySamples(NamedTuple):
    """Minibatches of transitions, ``[members, ...]`` first.

    ``rewards`` may be n-step discounted sums; ``bootstrap_discounts`` is what multiplies
    the next state's value in the target (gamma**n, or 0 after a termination);
    ``cumulants`` is each transition's vector of cumulants ``[..., d]`` (successor
    features' phi), ``d`` = 0 when the replay stores none.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    bootstrap_discounts: torch.Tensor
    cumulants: torch.Tensor

    def step(self, index: int) -> ReplaySamples:
        """Gradient step ``index`` of a burst's samples ``[members, steps, batch, ...]``."""
        return ReplaySamples(*(field[:, index] for field in self))


BURST_CHUNK = 64
"""Minibatches of a training burst gathered from the replay at once (one index draw per
member and one gather for all of them, instead of one per gradient step), fewer when that
would gather more than ``GATHER_ROWS`` transitions (a large population or batch): a draw's
numbers do not depend on how many minibatches it covers."""
GATHER_ROWS = 1 << 20

FIELDS = ("observations", "next_observations", "actions", "rewards", "bootstrap_discounts")


INITIAL_ROWS = 1 << 16
"""Transitions per member a replay first allocates; it doubles as members fill it, up to
its capacity."""


def packed(observations: torch.Tensor) -> torch.Tensor | dict[str, Any]:
    """Observations for a checkpoint: when every value is 0 or 1 (one-hot views, grid
    occupancy), their bits (32 times smaller: scavenger's 300k-transition replay is 1.2 GB
    as floats, 36 MB as bits) with the shape; otherwise a copy as they are."""
    if observations.numel() and bool(((observations == 0) | (observations == 1)).all()):
        bits = np.packbits(observations.numpy().astype(np.uint8).reshape(-1))
        return {"bits": torch.from_numpy(bits), "shape": list(observations.shape)}
    return observations.clone()


def unpacked(saved: torch.Tensor | dict[str, Any]) -> torch.Tensor:
    """What ``packed`` saved (or a checkpoint from before it: a tensor), as float32."""
    if not isinstance(saved, dict):
        return torch.as_tensor(saved, dtype=torch.float32)
    shape = [int(n) for n in saved["shape"]]
    bits = np.unpackbits(saved["bits"].numpy(), count=int(np.prod(shape)))
    return torch.from_numpy(bits.reshape(shape).astype(np.float32))


class StackedReplay:
    """One circular buffer of a fixed capacity per member, filled in batches.

    A transition is one float32 row (observation, next observation, action, reward,
    bootstrap discount, and with ``cumulant_size`` > 0 a vector of that many cumulants,
    successor features' phi), so adding a step's transitions and gathering a burst's
    minibatches are one indexing operation each; actions are whole numbers far below 2**24,
    which float32 holds exactly.

    The tensor starts at ``INITIAL_ROWS`` per member and doubles (a copy of what is filled)
    until it reaches ``capacity``; only then does a member's buffer wrap around. A
    population's default 1M-transition buffers on scavenger's 484-float observations
    would be 31 GB for 8 members: reserving them up front failed, though a 100k-step run
    fills 3 GB."""

    def __init__(
        self,
        members: int,
        capacity: int,
        observation_shape: tuple[int, ...],
        device: torch.device | str = "cpu",
        cumulant_size: int = 0,
    ) -> None:
        self.members, self.capacity, self.device = members, capacity, torch.device(device)
        self.cumulant_size = cumulant_size
        self.allocated = min(capacity, INITIAL_ROWS)
        self.observation_shape = observation_shape
        width = int(np.prod(observation_shape))
        self.columns = {  # FIELDS' places in a row
            "observations": slice(0, width),
            "next_observations": slice(width, 2 * width),
            "actions": slice(2 * width, 2 * width + 1),
            "rewards": slice(2 * width + 1, 2 * width + 2),
            "bootstrap_discounts": slice(2 * width + 2, 2 * width + 3),
        }
        self.columns["cumulants"] = slice(2 * width + 3, 2 * width + 3 + cumulant_size)
        self.fields = [*FIELDS, "cumulants"] if cumulant_size else list(FIELDS)
        # Uninitialised on purpose: only rows below a member's size are ever read.
        self.rows = torch.empty(
            (members, self.allocated, 2 * width + 3 + cumulant_size), device=self.device
        )
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
        cumulants: np.ndarray | None = None,
    ) -> None:
        """Append transitions (first axis) to the buffers of ``members`` (ascending, one per
        transition), each member's in order, overwriting its oldest when full;
        ``cumulants`` ``[count, cumulant_size]`` when the replay stores them."""
        count = len(members)
        if (cumulants is None) != (self.cumulant_size == 0):
            raise ValueError(f"this replay stores {self.cumulant_size} cumulants per transition")
        extra = [] if cumulants is None else [cumulants.reshape(count, self.cumulant_size)]
        counts = np.bincount(members, minlength=self.members)
        self.reserve(int((self.size + counts).max()))
        first = np.cumsum(counts) - counts
        slots = (self.position[members] + np.arange(count) - first[members]) % self.capacity
        rows = np.concatenate(
            [
                observations.reshape(count, -1),
                next_observations.reshape(count, -1),
                actions.reshape(count, 1),
                rewards.reshape(count, 1),
                bootstrap_discounts.reshape(count, 1),
                *extra,
            ],
            axis=1,
            dtype=np.float32,
        )
        index = torch.from_numpy(members * self.allocated + slots).to(self.device)
        self.rows.view(-1, self.rows.shape[-1])[index] = torch.from_numpy(rows).to(self.device)
        self.position = (self.position + counts) % self.capacity
        self.size = np.minimum(self.size + counts, self.capacity)

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` transitions per member (at most ``capacity``): double the
        allocation until it holds them. Positions stay valid, as no member has wrapped
        before the allocation reaches capacity."""
        needed = min(rows, self.capacity)
        if needed <= self.allocated:
            return
        allocated = self.allocated
        while allocated < needed:
            allocated = min(self.capacity, 2 * allocated)
        grown = torch.empty((self.members, allocated, self.rows.shape[-1]), device=self.device)
        filled = int(self.size.max())
        grown[:, :filled] = self.rows[:, :filled]
        self.rows, self.allocated = grown, allocated

    def sample_indices(
        self, rngs: list[np.random.Generator], steps: int, batch_size: int
    ) -> np.ndarray:
        """Rows ``[members, steps, batch_size]`` for ``steps`` minibatches, drawn uniformly
        from each member's filled part with its own generator, one call per member."""
        sizes = zip(rngs, self.size, strict=True)
        return np.stack([rng.integers(0, size, (steps, batch_size)) for rng, size in sizes])

    def gather(self, rows: np.ndarray) -> ReplaySamples:
        """The transitions at ``rows`` ``[members, ...]`` of each member's buffer."""
        offsets = (np.arange(self.members) * self.allocated).reshape(-1, *([1] * (rows.ndim - 1)))
        index = torch.from_numpy(rows + offsets).to(self.device)
        picked = self.rows.view(-1, self.rows.shape[-1])[index]
        shape = (*rows.shape, *self.observation_shape)
        column = self.columns
        return ReplaySamples(
            picked[..., column["observations"]].reshape(shape),
            picked[..., column["actions"]].squeeze(-1).long(),
            picked[..., column["rewards"]].squeeze(-1),
            picked[..., column["next_observations"]].reshape(shape),
            picked[..., column["bootstrap_discounts"]].squeeze(-1),
            picked[..., column["cumulants"]],
        )

    # --- one member's buffer, in the lone buffer's layout -------------------------------
    def member_state(self, member: int) -> dict[str, Any]:
        """Only the filled part is saved, so a young run's checkpoint stays small."""
        filled = self.rows[member, : int(self.size[member])].cpu()
        state: dict[str, Any] = {}
        for name in self.fields:
            values = filled[:, self.columns[name]]
            if name == "cumulants":
                state[name] = values.clone()
            elif name.endswith("observations"):
                state[name] = packed(values.reshape(len(filled), *self.observation_shape))
            else:
                state[name] = values.squeeze(-1).clone()
        state["actions"] = state["actions"].long()
        return state | {"position": int(self.position[member]), "size": int(self.size[member])}

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        size = int(state["size"])
        if size > self.capacity:
            raise RuntimeError(
                f"the checkpoint's replay holds {size} transitions, more than this "
                f"buffer's capacity of {self.capacity}"
            )
        self.reserve(size)
        with torch.no_grad():
            for name in self.fields:
                values = unpacked(state[name]).reshape(size, -1).to(torch.float32)
                self.rows[member, :size, self.columns[name]] = values.to(self.device)
        self.position[member] = int(state["position"])
        self.size[member] = size


class Burst:
    """The ``minibatches`` minibatches ``[members, batch_size, ...]`` of a training burst,
    drawn and gathered ``BURST_CHUNK`` at a time (the replay does not change in a burst)."""

    def __init__(
        self,
        replay: StackedReplay,
        rngs: list[np.random.Generator],
        batch_size: int,
        minibatches: int,
    ) -> None:
        self.replay, self.rngs, self.batch_size = replay, rngs, batch_size
        self.left = minibatches  # not yet handed out
        self.chunk: ReplaySamples | None = None
        self.cursor = 0

    def next(self) -> ReplaySamples:
        if self.chunk is None or self.cursor == self.chunk.actions.shape[1]:
            fits = GATHER_ROWS // (self.replay.members * self.batch_size)
            count = max(1, min(BURST_CHUNK, self.left, fits))
            rows = self.replay.sample_indices(self.rngs, count, self.batch_size)
            self.chunk, self.cursor = self.replay.gather(rows), 0
        self.cursor += 1
        self.left -= 1
        return self.chunk.step(self.cursor - 1)


class ContinuousReplay:
    """The off-policy continuous agents' (agents/common/off_policy.py) replay: one ring
    buffer of (s, a, r, s', terminated) per member, as preallocated NumPy arrays
    ``[P, size, ...]`` (a continuous action is a vector); each member's part is saved in
    the layout of a lone buffer."""

    FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")

    def __init__(self, members: int, size: int, observation_size: int, action_size: int):
        self.size = size
        self.count = np.zeros(members, dtype=np.int64)
        self.next = np.zeros(members, dtype=np.int64)
        self.observations = np.zeros((members, size, observation_size), np.float32)
        self.actions = np.zeros((members, size, action_size), np.float32)
        self.rewards = np.zeros((members, size), np.float32)
        self.next_observations = np.zeros((members, size, observation_size), np.float32)
        self.terminated = np.zeros((members, size), np.float32)

    def add(self, members: np.ndarray, obs, action, reward, next_obs, terminated) -> None:
        """One transition for each of ``members`` (indices; the arrays have a row per
        member of the population)."""
        rows = self.next[members]
        for name, values in zip(
            self.FIELDS, (obs, action, reward, next_obs, terminated), strict=True
        ):
            getattr(self, name)[members, rows] = np.asarray(values)[members]
        self.next[members] = (rows + 1) % self.size
        self.count[members] = np.minimum(self.count[members] + 1, self.size)

    def sample(self, batch: int, rngs: Sequence[np.random.Generator]) -> dict[str, torch.Tensor]:
        """``batch`` transitions ``[P, batch, ...]`` per member, drawn with its generator."""
        index = np.stack(
            [rng.integers(0, n, size=batch) for rng, n in zip(rngs, self.count, strict=True)]
        )
        members = np.arange(len(rngs))[:, None]
        return {name: torch.from_numpy(getattr(self, name)[members, index]) for name in self.FIELDS}

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        """The member's filled rows only, oldest first (an early checkpoint stays small)."""
        count, size = int(self.count[member]), self.size
        oldest = int(self.next[member]) if count == size else 0
        index = (np.arange(count) + oldest) % size
        return {name: torch.from_numpy(getattr(self, name)[member, index]) for name in self.FIELDS}

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        count = min(len(state["rewards"]), self.size)
        for name in self.FIELDS:
            getattr(self, name)[member, :count] = state[name][-count:].numpy()
        self.count[member], self.next[member] = count, count % self.size
