"""n-step folding: sums, bootstrap discounts, episode ends and autoreset steps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.common.nstep import NStepAccumulator


def step(acc, t, reward, terminated=False, truncated=False, real=True):
    """One step of a single env whose observation at time t is [t]."""
    return acc.push(
        np.array([[t]], dtype=np.float32),
        np.array([t]),
        np.array([reward], dtype=float),
        np.array([[t + 1]], dtype=np.float32),
        np.array([terminated]),
        np.array([truncated]),
        np.array([real]),
    )


def rows(out):
    return [
        (float(o[0]), r, float(n[0]), b)
        for o, r, n, b in zip(
            out.observations,
            out.returns,
            out.next_observations,
            out.bootstrap_discounts,
            strict=True,
        )
    ]


def test_three_step_sums_and_termination_flush() -> None:
    acc = NStepAccumulator(num_envs=1, n=3, discount=0.5)
    assert step(acc, 0, 1.0) is None and step(acc, 1, 2.0) is None
    assert rows(step(acc, 2, 3.0)) == [(0.0, 1 + 0.5 * 2 + 0.25 * 3, 3.0, 0.125)]
    assert rows(step(acc, 3, 4.0)) == [(1.0, 2 + 0.5 * 3 + 0.25 * 4, 4.0, 0.125)]
    # Termination: everything queued is emitted with no bootstrap.
    assert rows(step(acc, 4, 5.0, terminated=True)) == [
        (2.0, 3 + 0.5 * 4 + 0.25 * 5, 5.0, 0.0),
        (3.0, 4 + 0.5 * 5, 5.0, 0.0),
        (4.0, 5.0, 5.0, 0.0),
    ]


def test_truncation_bootstraps_with_the_folded_discount() -> None:
    acc = NStepAccumulator(num_envs=1, n=3, discount=0.5)
    step(acc, 0, 1.0)
    out = rows(step(acc, 1, 1.0, truncated=True))
    assert out == [(0.0, 1.5, 2.0, 0.25), (1.0, 1.0, 2.0, 0.5)]


def test_autoreset_steps_are_skipped() -> None:
    acc = NStepAccumulator(num_envs=1, n=2, discount=0.9)
    assert step(acc, 0, 1.0, real=False) is None
    assert step(acc, 1, 1.0) is None


@pytest.mark.parametrize("terminated", [False, True])
def test_one_step_is_the_plain_td_transition(terminated: bool) -> None:
    acc = NStepAccumulator(num_envs=1, n=1, discount=0.9)
    assert rows(step(acc, 0, 2.0, terminated=terminated)) == [
        (0.0, 2.0, 1.0, 0.0 if terminated else pytest.approx(0.9))
    ]


def test_environments_are_folded_independently() -> None:
    acc = NStepAccumulator(num_envs=2, n=2, discount=1.0)
    obs = np.zeros((2, 1), dtype=np.float32)
    no = np.array([False, False])
    both = np.array([True, True])
    acc.push(obs, np.array([0, 0]), np.array([1.0, 10.0]), obs, no, no, both)
    out = acc.push(
        obs, np.array([0, 0]), np.array([2.0, 20.0]), obs, np.array([True, False]), no, both
    )
    # env 0 terminated: both of its steps leave without bootstrap; env 1 fills its 2 steps.
    pairs = sorted(zip(out.returns.tolist(), out.bootstrap_discounts.tolist(), strict=True))
    assert pairs == [(2.0, 0.0), (3.0, 0.0), (30.0, 1.0)]


@given(
    n=st.integers(1, 5),
    discount=st.floats(0.0, 1.0),
    rewards=st.lists(st.floats(-10, 10), min_size=1, max_size=12),
    terminated=st.booleans(),
)
def test_folding_matches_brute_force(n, discount, rewards, terminated) -> None:
    """Every step of one episode comes out once, with the sum and discount by definition."""
    acc = NStepAccumulator(num_envs=1, n=n, discount=discount)
    out = []
    for t, reward in enumerate(rewards):
        last = t == len(rewards) - 1
        emitted = step(
            acc, t, reward, terminated=last and terminated, truncated=last and not terminated
        )
        out += rows(emitted) if emitted is not None else []
    T = len(rewards)
    expected = []
    for t in range(T):
        m = min(n, T - t)
        total = sum(discount**k * rewards[t + k] for k in range(m))
        ends = t + m == T
        bootstrap = 0.0 if (ends and terminated) else discount**m
        expected.append((float(t), total, float(t + m), bootstrap))
    assert [o[0] for o in out] == [e[0] for e in expected]
    for got, want in zip(out, expected, strict=True):
        assert got[1] == pytest.approx(want[1], abs=1e-9)
        assert got[2:] == pytest.approx(want[2:])
