"""The stacked replay grows as its members fill it and wraps only at its capacity: what it
holds and hands out does not depend on how much it allocated first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.common import replay
from agents.common.replay import StackedReplay


def filled(initial_rows: int, capacity: int, monkeypatch: pytest.MonkeyPatch) -> StackedReplay:
    monkeypatch.setattr(replay, "INITIAL_ROWS", initial_rows)
    buffer = StackedReplay(2, capacity, (3,))
    rng = np.random.default_rng(0)
    for step in range(25):  # member 0 gets two transitions a step, member 1 one
        members = np.array([0, 0, 1])
        observations = rng.normal(size=(3, 3))
        buffer.add(
            members,
            observations,
            np.array([step, step, step]),
            rng.normal(size=3),
            observations + 1,
            np.full(3, 0.9),
        )
    return buffer


@pytest.mark.parametrize("capacity", [20, 40, 1000])
def test_growing_holds_what_a_whole_allocation_holds(
    capacity: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, whole = filled(4, capacity, monkeypatch), filled(10_000, capacity, monkeypatch)
    assert small.allocated == min(capacity, 64) and whole.allocated == capacity
    for member in (0, 1):
        grown, reference = small.member_state(member), whole.member_state(member)
        assert grown.keys() == reference.keys()
        for key, value in reference.items():
            assert np.array_equal(np.asarray(grown[key]), np.asarray(value)), key
    assert small.size.tolist() == [min(50, capacity), min(25, capacity)]
    rows = small.sample_indices([np.random.default_rng(m) for m in (0, 1)], 3, 5)
    for a, b in zip(small.gather(rows), whole.gather(rows), strict=True):
        assert torch.equal(a, b)


def test_a_checkpoint_larger_than_the_allocation_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    source = filled(10_000, 1000, monkeypatch)
    monkeypatch.setattr(replay, "INITIAL_ROWS", 4)
    target = StackedReplay(2, 1000, (3,))
    target.load_member_state(1, source.member_state(0))
    assert target.allocated >= 50
    state = target.member_state(1)
    assert torch.equal(state["observations"], source.member_state(0)["observations"])


def test_binary_observations_are_saved_as_bits_and_load_exactly(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One-hot views (scavenger's) go into a checkpoint as bits, 32 times smaller than the
    floats, and come back exactly; other observations stay floats; a checkpoint from
    before (float tensors) still loads."""
    rng = np.random.default_rng(1)
    views = (rng.random((40, 5, 7)) < 0.2).astype(np.float32)
    buffer = StackedReplay(1, 100, (5, 7))
    buffer.add(
        np.zeros(40, dtype=np.int64),
        views,
        np.arange(40) % 4,
        rng.normal(size=40),
        1 - views,
        np.full(40, 0.9),
    )
    state = buffer.member_state(0)
    assert isinstance(state["observations"], dict)
    assert state["observations"]["bits"].numel() == 40 * 35 // 8
    path = tmp_path / "replay.pt"
    torch.save(state, path)
    restored = StackedReplay(1, 100, (5, 7))
    restored.load_member_state(0, torch.load(path, weights_only=True))
    rows = np.arange(40).reshape(1, 1, 40)
    for a, b in zip(buffer.gather(rows), restored.gather(rows), strict=True):
        assert torch.equal(a, b)
    old_layout = state | {
        "observations": torch.from_numpy(views),
        "next_observations": torch.from_numpy(1 - views),
    }
    again = StackedReplay(1, 100, (5, 7))
    again.load_member_state(0, old_layout)
    assert torch.equal(again.gather(rows).observations, buffer.gather(rows).observations)
    continuous = filled(10_000, 1000, monkeypatch).member_state(0)
    assert isinstance(continuous["observations"], torch.Tensor)
