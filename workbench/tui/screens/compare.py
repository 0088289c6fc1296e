"""The compare view: several runs' curves overlaid, or grouped by configuration (runs
that differ only in seed) as a mean with a min-max band."""

from __future__ import annotations

import json

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from workbench.store import RunRecord
from workbench.tui.messages import CompareRead, ReportsFailures
from workbench.tui.readers.runs import read_compare
from workbench.tui.smoothing import SMOOTHING_STEPS, ema
from workbench.tui.widgets.message_line import MessageLine
from workbench.tui.widgets.metric_picker import MetricPicker
from workbench.tui.widgets.metric_plot import Curve, MetricPlot

GRID_POINTS = 200


def group_label(run: RunRecord) -> str:
    """Runs with the same label differ only in seed."""
    settings = json.dumps([run.config, run.task_params], sort_keys=True)
    return f"{run.agent}/{run.task} {settings if settings != '[{}, {}]' else ''}".strip()


def band(curves: list[tuple[list[int], list[float]]]) -> tuple[np.ndarray, ...]:
    """Mean, min and max of curves interpolated onto a common step grid (up to the
    shortest curve's last step, so every point averages every run)."""
    end = min(steps[-1] for steps, _ in curves)
    start = max(steps[0] for steps, _ in curves)
    grid = np.linspace(start, end, GRID_POINTS) if end > start else np.array([end])
    stacked = np.array([np.interp(grid, steps, values) for steps, values in curves])
    return grid, stacked.mean(0), stacked.min(0), stacked.max(0)


class CompareView(ReportsFailures, Screen[None]):
    PALETTE_PREFIX = "compare"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("g", "toggle_group", "Group by config", tooltip="Mean and min-max band"),
        Binding("m", "next_metric", "Next metric", tooltip="Plot the next common metric"),
        Binding("M", "pick_metric", "Pick metric", show=False, tooltip="Choose from a list"),
        Binding("e", "next_smoothing", "Smoothing", tooltip="Off, 0.6, 0.9, 0.97"),
    ]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.grouped = False
        self.smoothing = 0.6
        self.metric: str | None = None
        self.keys: list[str] = []
        self.runs: dict[int, RunRecord] = {}
        self.series: dict[int, tuple[list[int], list[float]]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compare-header")
        yield MetricPlot(id="curve")
        yield MessageLine("", id="compare-message")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(self.app.refresh_seconds * 2, self.load)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        self.post_message(CompareRead(read_compare(self.app.store.home, self.run_ids, self.metric)))

    def on_compare_read(self, message: CompareRead) -> None:
        data = message.data
        self.runs, self.keys, self.series = data.runs, data.keys, data.series
        self.metric = self.metric or data.metric
        self.show()

    def show(self) -> None:
        mode = "grouped by config: mean and min-max band" if self.grouped else "overlaid"
        self.query_one("#compare-header", Static).update(
            f"runs {', '.join(map(str, self.run_ids))}  ·  {mode}  ·  g: toggle, m: metric, "
            "M: pick, e: smoothing"
        )
        self.draw()

    def draw(self) -> None:
        curves = {i: c for i, c in self.series.items() if len(c[0]) > 1}
        drawn: list[Curve] = []
        if self.grouped:
            groups: dict[str, list[int]] = {}
            for run_id in curves:
                groups.setdefault(group_label(self.runs[run_id]), []).append(run_id)
            for label, members in groups.items():
                grid, mean, low, high = band(
                    [(curves[i][0], ema(curves[i][1], self.smoothing)) for i in members]
                )
                drawn.append(Curve(grid, low, color="gray"))
                drawn.append(Curve(grid, high, color="gray"))
                drawn.append(Curve(grid, mean, label=f"{label[:50]} (n={len(members)})"))
        else:
            for run_id, (steps, values) in curves.items():
                run = self.runs[run_id]
                label = f"{run_id} {run.agent} seed {run.seed}"
                drawn.append(Curve(steps, ema(values, self.smoothing), label=label))
        self.query_one(MetricPlot).show(
            f"{self.metric or 'no common metric'}", drawn, xlabel="env steps"
        )

    def action_toggle_group(self) -> None:
        self.grouped = not self.grouped
        self.show()

    def show_metric(self, metric: str | None) -> None:
        if metric and metric != self.metric:
            self.metric = metric
            self.load()

    def action_next_metric(self) -> None:
        if self.keys:
            index = self.keys.index(self.metric) + 1 if self.metric in self.keys else 0
            self.show_metric(self.keys[index % len(self.keys)])

    def action_pick_metric(self) -> None:
        if self.keys:
            self.app.push_screen(MetricPicker(self.keys, self.metric), self.show_metric)

    def action_next_smoothing(self) -> None:
        index = SMOOTHING_STEPS.index(self.smoothing) if self.smoothing in SMOOTHING_STEPS else 0
        self.smoothing = SMOOTHING_STEPS[(index + 1) % len(SMOOTHING_STEPS)]
        self.draw()
