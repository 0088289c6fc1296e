"""Gittins indices of Beta-Bernoulli arms by calibration (Gittins 1979; Gittins, Glazebrook
& Weber 2011, ch. 8).

The index of a Beta(s+1, f+1) arm is the per-step retirement reward lambda at which
pulling the arm once more and retiring for ever are worth the same. For a grid of lambdas
at once, one backward pass over the posterior lattice (s, f) gives, per state, the gap
between continuing and retiring; the index is where that gap crosses zero, interpolated
between grid points. Beyond ``depth`` observations the posterior is taken as frozen.
"""

from __future__ import annotations

import functools
import math

import numpy as np

MAX_LOOKAHEAD = 1500


@functools.lru_cache(maxsize=8)
def gittins_table(discount: float, pulls: int, grid: int = 401) -> np.ndarray:
    """``table[s, f]`` = index of Beta(s+1, f+1) for s + f <= pulls (NaN elsewhere)."""
    lookahead = min(MAX_LOOKAHEAD, math.ceil(math.log(1e-4) / math.log(discount)))
    depth = pulls + lookahead
    lambdas = np.linspace(0.0, 1.0, grid)[:, None]
    retire = lambdas / (1.0 - discount)
    successes = np.arange(depth + 1)
    mean = (successes + 1.0) / (depth + 2.0)
    value = np.maximum(retire, mean / (1.0 - discount))  # frozen posterior at the horizon
    table = np.full((pulls + 1, pulls + 1), np.nan)
    for n in range(depth - 1, -1, -1):
        successes = np.arange(n + 1)
        mean = (successes + 1.0) / (n + 2.0)
        cont = mean * (1.0 + discount * value[:, successes + 1]) + (1.0 - mean) * (
            discount * value[:, successes]
        )
        value = np.maximum(retire, cont)
        if n <= pulls:
            table[successes, n - successes] = _crossing(lambdas[:, 0], cont - retire)
    return table


def _crossing(lambdas: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Per column, the lambda where ``gap`` (decreasing in lambda) first drops below zero."""
    first_negative = np.argmax(gap < 0, axis=0)
    first_negative = np.where((gap < 0).any(axis=0), first_negative, len(lambdas) - 1)
    above = np.maximum(first_negative - 1, 0)
    columns = np.arange(gap.shape[1])
    g_hi, g_lo = gap[above, columns], gap[first_negative, columns]
    weight = np.where(g_hi != g_lo, g_hi / np.where(g_hi != g_lo, g_hi - g_lo, 1.0), 0.0)
    return lambdas[above] + weight * (lambdas[first_negative] - lambdas[above])
