"""The run view: a run's live curve (reward by default, any logged metric on request),
EMA smoothing with the raw curve faint behind, the config, and the log's tail with a
filter; stop, resume, and clone-with-changes into the launch dialog."""

from __future__ import annotations

import json

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Log, Static
from textual_plotext import PlotextPlot

from agents.common.base import EVAL_KEYS, RETURN_KEYS
from workbench.runner import eval_text
from workbench.store import RunRecord, Store, StoreError
from workbench.tui.screens.runs import control_run
from workbench.tui.smoothing import SMOOTHING_STEPS, ema

LOG_LINES = 200
LOG_TAIL_BYTES = 64_000


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

    AUTO_FOCUS = "#run-log"  # letters act on the run; / moves to the log filter, Enter back

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("m", "next_metric", "Next metric"),
        Binding("e", "next_smoothing", "Smoothing"),
        Binding("s", "stop_run", "Stop"),
        Binding("r", "resume_run", "Resume"),
        Binding("c", "clone_run", "Clone"),
        Binding("slash", "filter_log", "Filter log"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.metric: str | None = None  # chosen from the run's keys on first refresh
        self.keys: list[str] = []
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.smoothing = 0.6
        self.run: RunRecord | None = None
        self.log_lines: list[str] = []
        self.log_size = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-header")
        yield PlotextPlot(id="curve")
        with Horizontal(id="log-bar"):
            yield Static("log", id="log-title")
            yield Input(placeholder="filter the log (/)", id="log-filter")
        yield Log(id="run-log", max_lines=LOG_LINES)
        yield Static("", id="run-message")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_run()
        self.set_interval(self.app.refresh_seconds, self.refresh_run)

    @work(thread=True, exclusive=True, group="refresh-run", exit_on_error=False)
    def refresh_run(self) -> None:
        """Read the row, only the metric rows logged since the last refresh, and only the
        bytes appended to the log since then."""
        store = Store(self.app.store.home)
        try:
            data = self.read_refresh(store)
        except StoreError as err:  # deleted from elsewhere, or the store is busy: say so
            message = self.query_one("#run-message", Static)
            self.app.call_from_thread(message.update, str(err))
            return
        finally:
            store.close()
        self.app.call_from_thread(self.show, *data)

    def read_refresh(self, store: Store) -> tuple:
        """The arguments of ``show``: the row, keys, metric, new metric rows, new log lines."""
        run = store.get_run(self.run_id)
        keys = store.metric_keys(self.run_id)
        metric = self.metric or default_metric(keys)
        new_rows = {}
        for key in shown_keys(metric):
            steps, _ = self.series.get(key, ([], []))
            new_rows[key] = store.metrics(self.run_id, key, steps[-1] if steps else -1)
        return run, keys, metric, new_rows, self.read_log(store)

    def read_log(self, store: Store) -> list[str]:
        """Complete lines appended to the run's log since the last read (its last
        LOG_TAIL_BYTES the first time)."""
        path = store.log_path(self.run_id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.log_size:  # replaced: start over
            self.log_size = 0
        start, skip_first = self.log_size, False
        if start == 0 and size > LOG_TAIL_BYTES:
            start, skip_first = size - LOG_TAIL_BYTES, True  # it begins mid-line
        with path.open("rb") as handle:
            handle.seek(start)
            data = handle.read(size - start)
        complete = data[: data.rfind(b"\n") + 1]  # a line being written waits for the next read
        self.log_size = start + len(complete)
        lines = complete.decode(errors="replace").splitlines()
        return lines[1:] if skip_first else lines

    def show(
        self,
        run: RunRecord,
        keys: list[str],
        metric: str | None,
        new_rows: dict[str, list],
        new_log: list[str],
    ) -> None:
        self.run = run
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
        if new_log:
            self.log_lines = (self.log_lines + new_log)[-LOG_LINES:]
            self.show_log(new_log)
        self.draw()

    def show_log(self, lines: list[str]) -> None:
        pattern = self.query_one("#log-filter", Input).value.strip().lower()
        self.query_one(Log).write_lines([line for line in lines if pattern in line.lower()])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(Log).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-filter":
            self.query_one(Log).clear()
            self.show_log(self.log_lines)

    def draw(self) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        smoothing = f"smoothing {self.smoothing:g}" if self.smoothing else "no smoothing"
        plt.title(f"{self.metric}  ({smoothing}; m: next metric, e: smoothing)")
        plt.xlabel("env steps")
        drawn = False
        for key in shown_keys(self.metric):
            steps, values = self.series.get(key, ([], []))
            if not steps:
                continue
            drawn = True
            if self.smoothing and len(values) > 2:
                plt.plot(steps, values, marker="braille", color="gray")  # raw, faint
                plt.plot(steps, ema(values, self.smoothing), label=key, marker="braille")
            else:
                plt.plot(steps, values, label=key, marker="braille")
        if not drawn:
            plt.title(f"{self.metric}: no points yet")
        plot.refresh()

    def action_next_smoothing(self) -> None:
        index = SMOOTHING_STEPS.index(self.smoothing) if self.smoothing in SMOOTHING_STEPS else 0
        self.smoothing = SMOOTHING_STEPS[(index + 1) % len(SMOOTHING_STEPS)]
        self.draw()

    def action_filter_log(self) -> None:
        self.query_one("#log-filter", Input).focus()

    def action_clone_run(self) -> None:
        """The launch dialog filled with this run's settings, to change and launch."""
        from workbench.tui.screens.launch import LaunchScreen

        run = self.run
        if run is None:
            return
        self.app.push_screen(
            LaunchScreen(
                run.agent,
                run.task,
                run.config,
                run.task_params,
                steps=run.total_steps,
                seeds=str(run.seed),
                init_from=run.id if run.checkpoint_path else None,
            ),
            self.cloned,
        )

    def cloned(self, run_ids: list[int] | None) -> None:
        if run_ids:
            text = f"launched run(s) {', '.join(map(str, run_ids))}; Esc shows them in the table"
            self.query_one("#run-message", Static).update(text)

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
