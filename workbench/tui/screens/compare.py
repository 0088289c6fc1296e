"""The compare view: several runs' curves overlaid, or grouped as a median with an
interquartile band: a population's members together, a study's lifetimes together, and
other runs by configuration (runs that differ only in seed). Opening a group row of the
runs screen opens this view on its members, grouped. The x axis is env steps or wall
time; ``p``/``P`` save the plot (as `workbench plot` draws it) as PNG or SVG."""

from __future__ import annotations

import json

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from workbench.bands import BAND, median_band
from workbench.format import wall_unit
from workbench.smoothing import SMOOTHING_STEPS, ema
from workbench.store import RunRecord
from workbench.tui import actions
from workbench.tui.messages import ActionDone, CompareRead, ReportsFailures
from workbench.tui.readers.groups import group_key, group_name
from workbench.tui.readers.runs import read_compare
from workbench.tui.widgets.message_line import MessageLine
from workbench.tui.widgets.metric_picker import MetricPicker
from workbench.tui.widgets.metric_plot import Curve, MetricPlot

MAX_LABELS = 10
"""Overlaid, more runs than this are drawn without a legend (a hundred members' labels
would cover the plot), and the header counts them instead of listing their ids."""


def group_label(run: RunRecord) -> str:
    """Runs with the same label are drawn as one curve: a population's members, a study's
    lifetimes, else runs that differ only in seed."""
    key = group_key(run)
    if key is not None:
        return group_name(key)
    settings = json.dumps([run.config, run.task_params], sort_keys=True)
    return f"{run.agent}/{run.task} {settings if settings != '[{}, {}]' else ''}".strip()


class CompareView(ReportsFailures, Screen[None]):
    PALETTE_PREFIX = "compare"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding(
            "g",
            "toggle_group",
            "Group runs",
            tooltip="Populations, studies' lifetimes and same-config runs as a median with a "
            "25-75% band",
        ),
        Binding("m", "next_metric", "Next metric", tooltip="Plot the next common metric"),
        Binding("M", "pick_metric", "Pick metric", show=False, tooltip="Choose from a list"),
        Binding("e", "next_smoothing", "Smoothing", tooltip="Off, 0.6, 0.9, 0.97"),
        Binding("x", "toggle_x", "Steps/wall", tooltip="x axis: env steps or wall time"),
        Binding("p", "save_plot('png')", "Save plot", tooltip="The plot as PNG in HOME/exports"),
        Binding("P", "save_plot('svg')", "Save SVG", show=False, tooltip="The plot as SVG"),
    ]

    def __init__(
        self,
        run_ids: list[int],
        grouped: bool | None = None,
        title: str | None = None,
        metric: str | None = None,
    ) -> None:
        """``grouped`` None: grouped when two of the runs are of one population or study;
        ``metric`` None: their training return if they log one."""
        super().__init__()
        self.run_ids, self.title = run_ids, title
        self.grouped = grouped
        self.smoothing = 0.6
        self.metric = metric
        self.keys: list[str] = []
        self.runs: dict[int, RunRecord] = {}
        self.series: dict[int, tuple[list[int], list[float]]] = {}
        self.elapsed: dict[int, list[float | None]] = {}
        self.x_axis = "step"

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
        self.elapsed = data.elapsed
        self.metric = self.metric or data.metric
        if self.grouped is None:
            keys = [group_key(run) for run in self.runs.values()]
            self.grouped = any(k is not None and keys.count(k) > 1 for k in keys)
        self.show()

    def show(self) -> None:
        mode = (
            f"grouped by population, study or config: median and {BAND}"
            if self.grouped
            else "overlaid"
        )
        ids = ", ".join(map(str, self.run_ids))
        if self.title or len(self.run_ids) > MAX_LABELS:
            what = f"{self.title or 'compare'}: {len(self.run_ids)} runs"
        else:
            what = f"runs {ids}"
        self.query_one("#compare-header", Static).update(
            f"{what}  ·  {mode}  ·  g: toggle, m: metric, M: pick, e: smoothing, "
            "x: steps/wall, p: save"
        )
        self.draw()

    def on_axis(self) -> tuple[dict[int, tuple[list[float], list[float]]], str]:
        """Each run's (x, values) on the chosen axis, and the axis's label: env steps, or
        wall time since the run started (points without one left out)."""
        if self.x_axis == "step":
            return dict(self.series), "env steps"
        timed = {}
        for run_id, (_, values) in self.series.items():
            pairs = [
                (s, v)
                for s, v in zip(self.elapsed.get(run_id, []), values, strict=True)
                if s is not None
            ]
            timed[run_id] = ([s for s, _ in pairs], [v for _, v in pairs])
        unit, scale = wall_unit(max((xs[-1] for xs, _ in timed.values() if xs), default=0))
        scaled = {i: ([x / scale for x in xs], ys) for i, (xs, ys) in timed.items()}
        return scaled, f"wall time ({unit})"

    def draw(self) -> None:
        on_axis, xlabel = self.on_axis()
        curves = {i: c for i, c in on_axis.items() if len(c[0]) > 1}
        drawn: list[Curve] = []
        if self.grouped:
            groups: dict[str, list[int]] = {}
            for run_id in curves:
                groups.setdefault(group_label(self.runs[run_id]), []).append(run_id)
            for label, members in groups.items():
                band = median_band(
                    [(curves[i][0], ema(curves[i][1], self.smoothing)) for i in members]
                )
                if band is None:
                    continue
                # The band's name once in the legend, on its first line.
                band_label = None if any(c.color == "gray" for c in drawn) else BAND
                drawn.append(Curve(band.steps, band.low, label=band_label, color="gray"))
                drawn.append(Curve(band.steps, band.high, color="gray"))
                name = f"{label[:50]} median (n={len(members)})"
                drawn.append(Curve(band.steps, band.median, label=name))
        else:
            labelled = len(curves) <= MAX_LABELS
            for run_id, (steps, values) in curves.items():
                run = self.runs[run_id]
                label = f"{run_id} {run.agent} seed {run.seed}" if labelled else None
                drawn.append(Curve(steps, ema(values, self.smoothing), label=label))
        self.query_one(MetricPlot).show(
            f"{self.metric or 'no common metric'}",
            drawn,
            xlabel=xlabel,
            integer_x=self.x_axis == "step",
        )

    def action_toggle_x(self) -> None:
        self.x_axis = "wall" if self.x_axis == "step" else "step"
        self.draw()

    def action_save_plot(self, kind: str) -> None:
        """The plot as `workbench plot` draws it: grouped by configuration when grouped
        here (a mean with a band, for a paper, where this view draws the median)."""
        if self.metric is None:
            self.query_one(MessageLine).say("nothing to plot yet")
            return
        self.query_one(MessageLine).say(f"saving the plot as {kind.upper()}…")
        group_by = "config" if self.grouped else None
        self.save(self.run_ids, self.metric, self.smoothing, self.x_axis, group_by, kind)

    @work(thread=True, group="action", exit_on_error=False)
    def save(self, *args) -> None:
        self.post_message(ActionDone(actions.save_plot(self.app.store.home, *args)))

    def on_action_done(self, message: ActionDone) -> None:
        self.query_one(MessageLine).say(message.text)

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
