"""How numbers look wherever the CLI or the TUI shows them (one place, so every view agrees)."""

from __future__ import annotations

import math


def fixed(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or ``-`` when there is none (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def mean_ci(mean: float | None, ci95: float | None, digits: int = 2) -> str:
    """``mean ± ci95``; the mean alone when there is no interval, ``-`` without a mean."""
    if ci95 is None or mean is None:
        return fixed(mean, digits)
    return f"{fixed(mean, digits)} ± {fixed(ci95, digits)}"
