"""One plot widget for every curve the TUI draws (run view, compare view, study view):
lines or points, a faint raw curve behind a smoothed one, and whole-number ticks on axes
that count (env steps, trials)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot


@dataclass
class Curve:
    xs: Sequence[float]
    ys: Sequence[float]
    label: str | None = None
    color: str | None = None
    """A plotext colour; "gray" for a faint curve behind another."""
    points: bool = False
    """Points (a scatter) instead of a line."""


def integer_ticks(low: float, high: float, count: int = 5) -> list[int]:
    """Up to ``count`` + 1 whole numbers spaced 1, 2 or 5 times a power of ten, covering
    [low, high]: an axis of env steps or trial numbers never reads 12513.5 or 0.25."""
    low, high = math.floor(low), math.ceil(high)
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)
    step = max(1, int(step))
    first = math.ceil(low / step) * step
    return list(range(first, high + 1, step))


class MetricPlot(PlotextPlot):
    """``show(title, curves)`` redraws the whole plot; ``curves`` are the ones drawn last
    (what a test reads, plotext keeping its own inside)."""

    curves: list[Curve] = []

    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 6; }
    """

    def show(
        self,
        title: str,
        curves: list[Curve],
        xlabel: str | None = None,
        integer_x: bool = True,
        empty: str | None = None,
        *,
        xticks: Sequence[tuple[float, str]] | None = None,
        xlim: tuple[float, float] | None = None,
        log_x: bool = False,
        legend: bool = True,
    ) -> None:
        """``xticks`` (position, label) replace the whole-number ticks; ``xlim`` and the
        ticks are in data units, on a logarithmic axis too (``log_x``). Without ``legend``
        the curves' labels are not drawn (a legend beside the plot names the colours)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        drawn = [c for c in curves if len(c.xs)]
        self.curves = drawn
        plt.title(title if drawn or empty is None else empty)
        if xlabel:
            plt.xlabel(xlabel)
        for curve in drawn:
            options = {"marker": "dot" if curve.points else "braille"}
            if curve.label and legend:
                options["label"] = curve.label
            if curve.color:
                options["color"] = curve.color
            draw = plt.scatter if curve.points else plt.plot
            draw(list(curve.xs), list(curve.ys), **options)
        if log_x:
            plt.xscale("log")
        if xlim is not None:
            # plotext takes the limits of a logarithmic axis as exponents
            plt.xlim(*(math.log10(x) for x in xlim) if log_x else xlim)
        if xticks is not None:
            plt.xticks([x for x, _ in xticks], [label for _, label in xticks])
        elif drawn and integer_x:
            low = min(min(c.xs) for c in drawn)
            high = max(max(c.xs) for c in drawn)
            ticks = integer_ticks(low, high)
            plt.xticks(ticks, [str(t) for t in ticks])
        self.refresh()
