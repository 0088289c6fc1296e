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
from textual_plotext import PlotextPlot

from workbench.store import RunRecord, Store
from workbench.tui.screens.run_view import default_metric
from workbench.tui.smoothing import SMOOTHING_STEPS, ema

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


class CompareView(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("g", "toggle_group", "Group by config"),
        Binding("m", "next_metric", "Next metric"),
        Binding("e", "next_smoothing", "Smoothing"),
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
        yield PlotextPlot(id="curve")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(self.app.refresh_seconds * 2, self.load)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        store = Store(self.app.store.home)
        try:
            runs = {run_id: store.get_run(run_id) for run_id in self.run_ids}
            keys = sorted(set.intersection(*(set(store.metric_keys(i)) for i in self.run_ids)))
            metric = self.metric or default_metric(keys)
            series = {}
            for run_id in self.run_ids:
                rows = store.metrics(run_id, metric) if metric else []
                series[run_id] = ([step for _, step, _ in rows], [v for _, _, v in rows])
        finally:
            store.close()
        self.app.call_from_thread(self.show, runs, keys, metric, series)

    def show(self, runs, keys, metric, series) -> None:
        self.runs, self.keys, self.series = runs, keys, series
        self.metric = self.metric or metric
        mode = "grouped by config: mean and min-max band" if self.grouped else "overlaid"
        self.query_one("#compare-header", Static).update(
            f"runs {', '.join(map(str, self.run_ids))}  ·  {mode}  ·  g: toggle, m: metric, "
            "e: smoothing"
        )
        self.draw()

    def draw(self) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{self.metric or 'no common metric'}")
        plt.xlabel("env steps")
        curves = {i: c for i, c in self.series.items() if len(c[0]) > 1}
        if self.grouped:
            groups: dict[str, list[int]] = {}
            for run_id in curves:
                groups.setdefault(group_label(self.runs[run_id]), []).append(run_id)
            for label, members in groups.items():
                grid, mean, low, high = band(
                    [(curves[i][0], ema(curves[i][1], self.smoothing)) for i in members]
                )
                plt.plot(grid, low, marker="braille", color="gray")
                plt.plot(grid, high, marker="braille", color="gray")
                plt.plot(grid, mean, marker="braille", label=f"{label[:50]} (n={len(members)})")
        else:
            for run_id, (steps, values) in curves.items():
                run = self.runs[run_id]
                label = f"{run_id} {run.agent} seed {run.seed}"
                plt.plot(steps, ema(values, self.smoothing), marker="braille", label=label)
        plot.refresh()

    def action_toggle_group(self) -> None:
        self.grouped = not self.grouped
        self.show(self.runs, self.keys, self.metric, self.series)

    def action_next_metric(self) -> None:
        if self.keys:
            index = self.keys.index(self.metric) + 1 if self.metric in self.keys else 0
            self.metric = self.keys[index % len(self.keys)]
            self.load()

    def action_next_smoothing(self) -> None:
        index = SMOOTHING_STEPS.index(self.smoothing) if self.smoothing in SMOOTHING_STEPS else 0
        self.smoothing = SMOOTHING_STEPS[(index + 1) % len(SMOOTHING_STEPS)]
        self.draw()
