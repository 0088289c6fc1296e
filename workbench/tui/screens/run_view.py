"""The run view: a run's live curve (reward by default, any logged metric on request)."""

from __future__ import annotations

import json

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from agents.base import EVAL_KEYS, RETURN_KEYS
from workbench.runner import eval_text
from workbench.store import RunRecord, Store
from workbench.tui.screens.runs import control_run


def default_metric(keys: list[str]) -> str | None:
    """The training return if the run logs one, else its first metric."""
    return next((key for key in RETURN_KEYS if key in keys), keys[0] if keys else None)


def shown_keys(metric: str | None) -> list[str]:
    """The metric, and beside a training return its evaluation counterpart."""
    if metric is None:
        return []
    if metric in RETURN_KEYS:
        return [metric, EVAL_KEYS[RETURN_KEYS.index(metric)]]
    return [metric]


class RunView(Screen[None]):
    """One run: header with status and progress, the curve of a metric, stop and resume."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("m", "next_metric", "Next metric"),
        Binding("s", "stop_run", "Stop"),
        Binding("r", "resume_run", "Resume"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.metric: str | None = None  # chosen from the run's keys on first refresh
        self.keys: list[str] = []
        self.series: dict[str, tuple[list[int], list[float]]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-header")
        yield PlotextPlot(id="curve")
        yield Static("", id="run-message")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_run()
        self.set_interval(self.app.refresh_seconds, self.refresh_run)

    @work(thread=True, exclusive=True, group="refresh-run")
    def refresh_run(self) -> None:
        """Read the row and only the metric rows logged since the last refresh."""
        store = Store(self.app.store.home)
        try:
            run = store.get_run(self.run_id)
            keys = store.metric_keys(self.run_id)
            metric = self.metric or default_metric(keys)
            new_rows = {}
            for key in shown_keys(metric):
                steps, _ = self.series.get(key, ([], []))
                new_rows[key] = store.metrics(self.run_id, key, steps[-1] if steps else -1)
        finally:
            store.close()
        self.app.call_from_thread(self.show, run, keys, metric, new_rows)

    def show(
        self, run: RunRecord, keys: list[str], metric: str | None, new_rows: dict[str, list]
    ) -> None:
        self.keys = keys
        self.metric = self.metric or metric
        for key, rows in new_rows.items():
            steps, values = self.series.setdefault(key, ([], []))
            if steps and run.steps_done < steps[-1]:  # resumed: later points were replaced
                steps.clear()
                values.clear()
                continue
            for _, step, value in rows:
                steps.append(step)
                values.append(value)
        summary = run.summary
        evaluation = f"eval {eval_text(summary)}"
        self.query_one("#run-header", Static).update(
            f"run {run.id} {run.name}  [b]{run.status}[/b]  "
            f"{run.steps_done}/{run.total_steps} steps  "
            f"{summary.get('steps_per_second', 0):.0f} steps/s  {evaluation}\n"
            f"config {json.dumps(run.config)}"
        )
        self.draw()

    def draw(self) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{self.metric} (m: next metric)")
        plt.xlabel("env steps")
        drawn = False
        for key in shown_keys(self.metric):
            steps, values = self.series.get(key, ([], []))
            if steps:
                plt.plot(steps, values, label=key, marker="braille")
                drawn = True
        if not drawn:
            plt.title(f"{self.metric}: no points yet")
        plot.refresh()

    def action_next_metric(self) -> None:
        if not self.keys:
            return
        index = self.keys.index(self.metric) + 1 if self.metric in self.keys else 0
        self.metric = self.keys[index % len(self.keys)]
        self.draw()
        self.refresh_run()

    def action_stop_run(self) -> None:
        control_run(self, "stop", self.run_id)

    def action_resume_run(self) -> None:
        control_run(self, "resume", self.run_id)
