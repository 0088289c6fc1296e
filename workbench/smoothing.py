"""Curve smoothing as TensorBoard does it: a debiased exponential moving average."""

from __future__ import annotations

SMOOTHING_STEPS = (0.0, 0.6, 0.9, 0.97)
"""The weights ``e`` cycles through; 0 is off."""


def ema(values: list[float], weight: float) -> list[float]:
    """Debiased EMA (the first points are not dragged toward 0); weight 0 returns values."""
    if weight <= 0:
        return list(values)
    smoothed, last, debias = [], 0.0, 1.0
    for value in values:
        last = weight * last + (1 - weight) * value
        debias *= weight
        smoothed.append(last / (1 - debias))
    return smoothed
