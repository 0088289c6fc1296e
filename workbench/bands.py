"""Many runs' curves as one on a common step grid: a median and an interquartile band (the
TUI's compare and group views), or a mean and its standard error (`workbench plot`).

Members of a population report in lockstep, but a study's lifetimes (and runs compared
by hand) report at different steps and end at different steps (pruned, still running).
So each curve is interpolated onto one grid spanning all of them, and at each grid step
only the curves that reached it count: a lifetime pruned early does not drag the median
down past its end, and the grid is not cut at the shortest curve. The band is the
interquartile range (25th to 75th percentile), which a few outliers among a hundred
lifetimes do not stretch as a min-max band would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

GRID_POINTS = 200
BAND = "25–75% band"
"""How the band is named in legends and headers."""


@dataclass(frozen=True)
class Band:
    """A median curve and its interquartile band; ``counts`` curves cover each step."""

    steps: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    counts: np.ndarray


def _on_grid(
    curves: Sequence[tuple[Sequence[float], Sequence[float]]], points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(grid, values [curve, grid] with NaN where a curve does not reach, counts), grid
    points no curve covers dropped; None when no curve has a point."""
    curves = [(np.asarray(s, float), np.asarray(v, float)) for s, v in curves if len(s)]
    if not curves:
        return None
    start = min(steps[0] for steps, _ in curves)
    end = max(steps[-1] for steps, _ in curves)
    grid = np.linspace(start, end, points) if end > start else np.array([end])
    stacked = np.full((len(curves), len(grid)), np.nan)
    for row, (steps, values) in enumerate(curves):
        inside = (grid >= steps[0]) & (grid <= steps[-1])
        stacked[row, inside] = np.interp(grid[inside], steps, values)
    counts = np.sum(~np.isnan(stacked), axis=0)
    covered = counts > 0
    if not covered.any():
        return None
    return grid[covered], stacked[:, covered], counts[covered]


def median_band(
    curves: Sequence[tuple[Sequence[int], Sequence[float]]], points: int = GRID_POINTS
) -> Band | None:
    """The median and interquartile band of ``curves`` (steps, values) on ``points`` steps
    from the first curve's start to the last curve's end; None when no curve has a point.
    A curve of one point counts only where a grid step falls on it."""
    gridded = _on_grid(curves, points)
    if gridded is None:
        return None
    grid, stacked, counts = gridded
    low, median, high = np.nanpercentile(stacked, [25, 50, 75], axis=0)
    return Band(grid, median, low, high, counts)


def mean_band(
    curves: Sequence[tuple[Sequence[float], Sequence[float]]], points: int = GRID_POINTS
) -> Band | None:
    """The mean of ``curves`` on the same grid as ``median_band``, and mean ± one standard
    error (of the curves covering each point; no band where one curve does) as the band.
    ``Band.median`` holds the mean."""
    gridded = _on_grid(curves, points)
    if gridded is None:
        return None
    grid, stacked, counts = gridded
    mean = np.nanmean(stacked, axis=0)
    spread = np.zeros_like(mean)
    several = counts > 1
    spread[several] = np.nanstd(stacked[:, several], axis=0, ddof=1) / np.sqrt(counts[several])
    return Band(grid, mean, mean - spread, mean + spread, counts)
