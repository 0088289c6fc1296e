"""Exact Bayes-optimal policies for Bernoulli bandits by dynamic programming over posteriors.

- Two independent arms with uniform priors: a table over (arm-1 pulls, arm-1 successes,
  arm-2 successes) per time step, vectorised, up to about a thousand pulls.
- k independent arms with uniform priors: memoised recursion over sorted per-arm
  (successes, failures) pairs (arms are exchangeable), for small pulls x arms.
- Two dependent arms, p2 = 1 - p1: every pull is equally informative about p1, so the
  posterior is summed up by (a, b), the counts of outcomes whose likelihood is p1 and
  1 - p1; the prior over p1 is uniform or two-point.
Values are expected total rewards over the whole meta-episode, exact up to float rounding.
"""

from __future__ import annotations

import functools
import math

import numpy as np

MAX_MEMO_STATES = 3_000_000


class TooLarge(ValueError):
    """The exact DP would not fit in reasonable time or memory; the message says why."""


# --- two independent arms ---------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def two_arm_tables(pulls: int) -> tuple[float, list[np.ndarray]]:
    """Value of the uniform-prior two-armed bandit, and per step t a boolean table
    ``choose_arm_2[n1, s1, s2]`` (arm-1 pulls, arm-1 successes, arm-2 successes)."""
    if pulls > 1000:
        raise TooLarge(f"the two-arm DP is limited to 1000 pulls, got {pulls}")
    value_next = np.zeros((pulls + 1,) * 3)
    choices: list[np.ndarray] = [np.empty(0)] * pulls
    for t in range(pulls - 1, -1, -1):
        n1 = np.arange(t + 1)[:, None, None]
        s1 = np.arange(t + 1)[None, :, None]
        s2 = np.arange(t + 1)[None, None, :]
        p1 = (s1 + 1.0) / (n1 + 2.0)
        p2 = (s2 + 1.0) / (t - n1 + 2.0)
        v = value_next
        q1 = (
            p1 * (1.0 + v[1 : t + 2, 1 : t + 2, : t + 1])
            + (1.0 - p1) * v[1 : t + 2, : t + 1, : t + 1]
        )
        q2 = p2 * (1.0 + v[: t + 1, : t + 1, 1 : t + 2]) + (1.0 - p2) * v[: t + 1, : t + 1, : t + 1]
        choices[t] = q2 > q1
        value_next = np.maximum(q1, q2)
    return float(value_next[0, 0, 0]), choices


# --- k independent arms -----------------------------------------------------------------
def k_arm_value(arms: int, pulls: int) -> float:
    estimate = math.comb(pulls + 2 * arms, 2 * arms)  # bound on (s, f) count vectors
    if estimate > MAX_MEMO_STATES * math.factorial(min(arms, 6)):
        raise TooLarge(
            f"the exact DP for {arms} arms and {pulls} pulls has about {estimate:.1e} states; "
            "it is computed for 2 arms up to 1000 pulls and for small arms x pulls (5 x 10)"
        )
    initial = tuple((0, 0) for _ in range(arms))
    return _k_arm(initial, pulls)


@functools.cache
def _k_arm(state: tuple[tuple[int, int], ...], remaining: int) -> float:
    return max(_k_arm_q(state, remaining)) if remaining else 0.0


def _k_arm_q(state: tuple[tuple[int, int], ...], remaining: int) -> list[float]:
    """Value of pulling each arm once more, then acting optimally."""
    values = []
    for arm, (s, f) in enumerate(state):
        p = (s + 1.0) / (s + f + 2.0)
        win = tuple(sorted(state[:arm] + ((s + 1, f),) + state[arm + 1 :]))
        lose = tuple(sorted(state[:arm] + ((s, f + 1),) + state[arm + 1 :]))
        values.append(
            p * (1.0 + _k_arm(win, remaining - 1)) + (1 - p) * _k_arm(lose, remaining - 1)
        )
    return values


# --- two dependent arms -----------------------------------------------------------------
def dependent_mean(a: np.ndarray, b: np.ndarray, support: tuple[float, ...] | None) -> np.ndarray:
    """E[p1 | a outcomes of likelihood p1, b of likelihood 1 - p1] under the prior."""
    if support is None:
        return (a + 1.0) / (a + b + 2.0)
    q = np.asarray(support, dtype=float)[:, None]
    log_weights = a * np.log(q) + b * np.log1p(-q)
    weights = np.exp(log_weights - log_weights.max(axis=0))
    return (weights * q).sum(axis=0) / weights.sum(axis=0)


def dependent_value(pulls: int, support: tuple[float, ...] | None) -> float:
    """Value of the dependent two-armed bandit; the optimal arm is the likelier one."""
    value_next = np.zeros(pulls + 1)
    for t in range(pulls - 1, -1, -1):
        a = np.arange(t + 1)
        m = dependent_mean(a, t - a, support)
        q1 = m * (1.0 + value_next[a + 1]) + (1.0 - m) * value_next[a]
        q2 = (1.0 - m) * (1.0 + value_next[a]) + m * value_next[a + 1]
        value_next = np.maximum(q1, q2)
    return float(value_next[0])


# --- acting and the exact value of a family ---------------------------------------------
class NotApplicable(ValueError):
    """The Bayes-optimal policy is not defined for these parameters; the message says why."""


def exact_value(family, params) -> float:
    """Expected total reward of the Bayes-optimal policy on a bandit family's prior."""
    if params.probs.strip():
        raise NotApplicable("probs fixes the task, so there is no prior to be Bayes-optimal for")
    if getattr(family, "dependent", False):
        return dependent_value(params.pulls, family.support)
    arms = family.arms(params)
    if arms == 2:
        return two_arm_tables(params.pulls)[0]
    return k_arm_value(arms, params.pulls)


class BayesOptimalPolicy:
    """Acts by the DP of ``exact_value``; same interface as the other bandit policies."""

    def __init__(self, family, params, tasks: int, rng: np.random.Generator) -> None:
        exact_value(family, params)  # refuses what it cannot solve, before acting
        self.family, self.params, self.rng = family, params, rng
        arms = family.arms(params)
        self.successes = np.zeros((tasks, arms), dtype=np.int64)
        self.failures = np.zeros((tasks, arms), dtype=np.int64)
        self.t = 0
        self._rows = np.arange(tasks)

    def act(self) -> np.ndarray:
        s, f = self.successes, self.failures
        if getattr(self.family, "dependent", False):
            mean = dependent_mean(s[:, 0] + f[:, 1], f[:, 0] + s[:, 1], self.family.support)
            tie = self.rng.integers(0, 2, len(mean))
            return np.where(mean > 0.5, 0, np.where(mean < 0.5, 1, tie))
        if s.shape[1] == 2:
            _, choices = two_arm_tables(self.params.pulls)
            return choices[self.t][s[:, 0] + f[:, 0], s[:, 0], s[:, 1]].astype(np.int64)
        remaining = self.params.pulls - self.t
        return np.array(
            [
                int(
                    np.argmax(
                        _k_arm_q(tuple(zip(si.tolist(), fi.tolist(), strict=True)), remaining)
                    )
                )
                for si, fi in zip(s, f, strict=True)
            ]
        )

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        won = rewards.astype(np.int64)
        self.successes[self._rows, actions] += won
        self.failures[self._rows, actions] += 1 - won
        self.t += 1
