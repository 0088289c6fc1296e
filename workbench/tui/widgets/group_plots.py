"""The group view's three plots, drawn from a ``GroupFigure`` (``workbench/service/
figures.py``, which says what each panel is; `study compare --plot` draws the same data
with matplotlib): each method's return with its 95% CI, that return against the env steps
the method spent, and the searches' return against discount with the meta-gradient
lifetimes' paths over it. One colour per method in all three."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from workbench.service.figures import GroupFigure
from workbench.tui.widgets.metric_plot import Curve, MetricPlot

COLOURS = (
    ("cyan", "cyan"),
    ("orange", "dark_orange"),
    ("green", "green"),
    ("magenta", "magenta"),
    ("red", "red"),
    ("blue", "blue"),
    ("yellow", "yellow"),
)
"""Each method's colour: its plotext name and the same colour's name in Rich."""


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)][0]


def legend(figure: GroupFigure) -> Text:
    """One line naming every method's colour, for all three plots: plotext draws its own
    legend over the top left of the data, where a method's point often is."""
    text = Text()
    for index, method in enumerate(figure.methods):
        text.append("● ", style=COLOURS[index % len(COLOURS)][1])
        text.append(f"{method.label}   ")
    if any(method.trajectories for method in figure.methods):
        text.append("lines: meta-gradient discount paths")
    return text


@dataclass
class Panel:
    """One plot: what ``MetricPlot.show`` is given."""

    title: str
    curves: list[Curve]
    options: dict[str, Any] = field(default_factory=dict)

    def draw(self, plot: MetricPlot) -> None:
        plot.show(self.title, self.curves, **self.options)


def interval_curve(x: float, low: float, high: float, tint: str) -> Curve:
    """A vertical segment: the 95% CI at ``x``."""
    return Curve([x, x], [low, high], color=tint)


def ci_panel(figure: GroupFigure) -> Panel:
    """Each method's mean return (a labelled point) and its CI, at its place on x."""
    curves = []
    for index, method in enumerate(figure.methods):
        if method.interval is None:
            continue
        curves.append(interval_curve(index, *method.interval, colour(index)))
        curves.append(
            Curve([index], [method.row.return_mean], method.label, colour(index), points=True)
        )
    count = len(figure.methods)
    return Panel(
        "return ± 95% CI",
        curves,
        {
            "xticks": [(i, m.label) for i, m in enumerate(figure.methods)],
            "xlim": (-0.7, count - 0.3),
            "empty": "no fresh lifetime yet",
            "legend": False,
        },
    )


def steps_text(steps: float) -> str:
    """12,000 -> 12k, 2,400,000 -> 2.4M: an axis label short enough for a narrow plot."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if steps >= size:
            return f"{steps / size:.3g}{suffix}"
    return f"{steps:.0f}"


def cost_panel(figure: GroupFigure) -> Panel:
    """Each method's return and CI at the env steps its search spent; a logarithmic axis
    when one method spent more than ten times another."""
    curves = []
    spent = []
    for index, method in enumerate(figure.methods):
        steps = method.row.env_steps
        if method.interval is None or steps <= 0:
            continue
        spent.append(steps)
        curves.append(interval_curve(steps, *method.interval, colour(index)))
        curves.append(
            Curve([steps], [method.row.return_mean], method.label, colour(index), points=True)
        )
    options: dict[str, Any] = {
        "xlabel": "env steps spent",
        "empty": "return vs cost",
        "legend": False,
    }
    if spent:
        low, high = min(spent), max(spent)
        log_x = high > 10 * low
        if log_x:
            xlim = (low / 2, high * 2)
        else:
            pad = max(0.1 * (high - low), 0.1 * high)
            xlim = (max(0.0, low - pad), high + pad)
        ticks = sorted(set(spent))
        options |= {
            "xticks": [(x, steps_text(x)) for x in ticks],
            "xlim": xlim,
            "log_x": log_x,
        }
    return Panel("return vs cost", curves, options)


def scatter_panel(figure: GroupFigure) -> Panel:
    """Every completed search lifetime as a point (discount, return), and each
    meta-gradient lifetime's path through the same plane."""
    curves = []
    for index, method in enumerate(figure.methods):
        if method.trials:
            discounts = [discount for discount, _ in method.trials]
            returns = [value for _, value in method.trials]
            curves.append(Curve(discounts, returns, method.label, colour(index), points=True))
        for number, path in enumerate(method.trajectories):
            label = f"{method.label} path" if number == 0 else None
            curves.append(Curve(path.discounts, path.returns, label, colour(index)))
    return Panel(
        "return vs discount",
        curves,
        {"xlabel": "discount", "integer_x": False, "empty": "return vs discount", "legend": False},
    )


class GroupPlots(Vertical):
    """The three panels side by side under one legend line; ``show(figure)`` redraws them
    all. Titles are short: plotext leaves out a title wider than its plot (a third of 80
    columns)."""

    DEFAULT_CSS = """
    GroupPlots { height: 2fr; }
    GroupPlots #group-legend { height: auto; padding: 0 1; }
    GroupPlots Horizontal MetricPlot { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="group-legend")
        with Horizontal():
            yield MetricPlot(id="group-ci")
            yield MetricPlot(id="group-cost")
            yield MetricPlot(id="group-scatter")

    def show(self, figure: GroupFigure) -> None:
        self.query_one("#group-legend", Static).update(legend(figure))
        ci_panel(figure).draw(self.query_one("#group-ci", MetricPlot))
        cost_panel(figure).draw(self.query_one("#group-cost", MetricPlot))
        scatter_panel(figure).draw(self.query_one("#group-scatter", MetricPlot))
