"""How numbers look wherever the CLI or the TUI shows them (one place, so every view agrees)."""

from __future__ import annotations

import json
import math
from typing import Any


def fixed(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or ``-`` when there is none (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def wall_unit(span: float) -> tuple[str, float]:
    """The unit of a wall-time axis spanning ``span`` seconds, and its length in seconds."""
    if span >= 2 * 3600:
        return "hours", 3600.0
    if span >= 120:
        return "minutes", 60.0
    return "seconds", 1.0


def mean_ci(mean: float | None, ci95: float | None, digits: int = 2) -> str:
    """``mean ± ci95``; the mean alone when there is no interval, ``-`` without a mean."""
    if ci95 is None or mean is None:
        return fixed(mean, digits)
    return f"{fixed(mean, digits)} ± {fixed(ci95, digits)}"


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by null, so the JSON is valid (JSON has
    no NaN): in an object, the value as text goes beside it under ``KEY_raw`` (``"nan"``,
    ``"inf"``, ``"-inf"``); in a list, null alone."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        safe: dict[Any, Any] = {}
        for key, item in value.items():
            safe[key] = json_safe(item)
            if isinstance(item, float) and not math.isfinite(item):
                safe[f"{key}_raw"] = repr(item)
        return safe
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def json_text(value: Any, indent: int | None = 2) -> str:
    """Valid JSON of ``value`` (see ``json_safe``); other types as their ``str``."""
    return json.dumps(json_safe(value), indent=indent, default=str, allow_nan=False)
