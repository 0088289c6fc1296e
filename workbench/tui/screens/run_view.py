"""The run view: a run's live curve (reward by default, any logged metric on request)
against env steps or wall time, EMA smoothing with the raw curve faint behind, the
effective config, its tags and note (editable), and the log's tail with a filter; stop,
resume, clone-with-changes into the launch dialog, and the plot saved as PNG or SVG."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Log, Static

from workbench.format import wall_unit
from workbench.runner import eval_text
from workbench.smoothing import SMOOTHING_STEPS, ema
from workbench.store import RunRecord
from workbench.tui import actions
from workbench.tui.messages import ActionDone, ReportsFailures, RunRead
from workbench.tui.readers.runs import RunReader, shown_keys
from workbench.tui.widgets.labels_form import Labels, LabelsModal
from workbench.tui.widgets.message_line import MessageLine
from workbench.tui.widgets.metric_picker import MetricPicker
from workbench.tui.widgets.metric_plot import Curve, MetricPlot

LOG_LINES = 200


def config_text(config: list[tuple[str, object, bool]], every_field: bool) -> str:
    """The config line(s): what differs from the defaults, or every field (changed ones
    bold); ``config {}`` never shows (a run of defaults says so)."""
    changed = [(name, value) for name, value, differs in config if differs]
    if every_field:
        shown = [(name, escape(repr(value)), differs) for name, value, differs in config]
        cells = [
            f"[b]{name}={text}[/b]" if differs else f"{name}={text}"
            for name, text, differs in shown
        ]
        return "config (bold: changed; i hides): " + "  ".join(cells)
    if not changed:
        return f"config: the defaults of all {len(config)} fields (i shows them)"
    text = "  ".join(f"{name}={escape(repr(value))}" for name, value in changed)
    return f"config: {text}; the other {len(config) - len(changed)} fields default (i shows all)"


def labels_text(run: RunRecord) -> str:
    """The header's line of tags and note (escaped: text from users is data)."""
    parts = []
    if run.tags:
        parts.append("tags: " + escape(" ".join(run.tags)))
    if run.note:
        note = run.note.splitlines()
        more = f" (+{len(note) - 1} lines)" if len(note) > 1 else ""
        parts.append("note: " + escape(note[0]) + more)
    keys = "l: edit name, tags, note · x: steps/wall · p/P: save plot"
    return "\n" + "  ·  ".join(parts or ["no tags or note"]) + f"  ({keys})"


class RunView(ReportsFailures, Screen[None]):
    """One run: header with status and progress, the curve of a metric, stop and resume."""

    PALETTE_PREFIX = "run"
    AUTO_FOCUS = "#run-log"  # letters act on the run; / moves to the log filter, Enter back

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("m", "next_metric", "Next metric", tooltip="Plot the run's next metric"),
        Binding("M", "pick_metric", "Pick metric", show=False, tooltip="Choose from a list"),
        Binding("e", "next_smoothing", "Smoothing", tooltip="Off, 0.6, 0.9, 0.97"),
        Binding("i", "toggle_config", "Config", tooltip="Every config field, or the changed"),
        Binding("s", "stop_run", "Stop", tooltip="Stop this run (it checkpoints first)"),
        Binding("r", "resume_run", "Resume", tooltip="Resume this run from its checkpoint"),
        Binding("c", "clone_run", "Clone", tooltip="The launch dialog with this run's settings"),
        # Off the footer (it is full at 120 columns): the plot's title and the header name
        # them, and ? and the palette list them.
        Binding("x", "toggle_x", "Steps/wall", show=False, tooltip="x axis: steps or wall time"),
        Binding("l", "edit_labels", "Labels", show=False, tooltip="Edit name, tags and note"),
        Binding("p", "save_plot('png')", "Save plot", show=False, tooltip="PNG in HOME/exports"),
        Binding("P", "save_plot('svg')", "Save SVG", show=False, tooltip="SVG in HOME/exports"),
        Binding("slash", "filter_log", "Filter log", show=False, tooltip="Filter the log tail"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.reader: RunReader | None = None
        self.metric: str | None = None  # chosen from the run's keys on first refresh
        self.keys: list[str] = []
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.elapsed: dict[str, list[float | None]] = {}
        """Per key, each point's seconds since the run started (None: unknown)."""
        self.x_axis = "step"
        self.smoothing = 0.6
        self.run: RunRecord | None = None
        self.config: list[tuple[str, object, bool]] = []
        self.every_field = False
        self.log_lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-header")
        yield MetricPlot(id="curve")
        with Horizontal(id="log-bar"):
            yield Static("log", id="log-title")
            yield Input(placeholder="filter the log (/)", id="log-filter")
        yield Log(id="run-log", max_lines=LOG_LINES)
        yield MessageLine("", id="run-message")
        yield Footer()

    def on_mount(self) -> None:
        self.reader = RunReader(self.app.store.home, self.run_id)
        self.refresh_run()
        self.set_interval(self.app.refresh_seconds, self.refresh_run)

    @work(thread=True, exclusive=True, group="refresh-run", exit_on_error=False)
    def refresh_run(self) -> None:
        """Read the row, only the metric rows logged since the last refresh, and only the
        bytes appended to the log since then."""
        last = {key: steps[-1] for key, (steps, _) in self.series.items() if steps}
        self.post_message(RunRead(self.reader.read(self.metric, last)))

    def on_run_read(self, message: RunRead) -> None:
        update = message.update
        run = self.run = update.run
        self.keys, self.config = update.keys, update.config
        self.metric = self.metric or update.metric
        for key, points in update.new_points.items():
            steps, values = self.series.setdefault(key, ([], []))
            elapsed = self.elapsed.setdefault(key, [])
            if steps and run.steps_done < steps[-1]:  # resumed: later points were replaced
                steps.clear()
                values.clear()
                elapsed.clear()
                continue
            for step, seconds, value in points:
                if steps and step <= steps[-1]:
                    continue  # read twice (a refresh began before the last was drawn)
                steps.append(step)
                values.append(value)
                elapsed.append(seconds)
        if update.new_log:
            self.log_lines = (self.log_lines + update.new_log)[-LOG_LINES:]
            self.show_log(update.new_log)
        self.show_header()
        self.draw()

    def show_header(self) -> None:
        run = self.run
        if run is None:
            return
        summary = run.summary
        self.query_one("#run-header", Static).update(
            f"run {run.id} {escape(run.name)}  [b]{run.shown_status()}[/b]  "
            f"{run.steps_done}/{run.total_steps} steps  "
            f"{summary.get('steps_per_second', 0):.0f} steps/s  eval {eval_text(summary)}\n"
            + config_text(self.config, self.every_field)
            + labels_text(run)
        )

    def show_log(self, lines: list[str]) -> None:
        pattern = self.query_one("#log-filter", Input).value.strip().lower()
        self.query_one(Log).write_lines([line for line in lines if pattern in line.lower()])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(Log).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-filter":
            self.query_one(Log).clear()
            self.show_log(self.log_lines)

    def axis(self, key: str) -> tuple[list[float], list[float]]:
        """(x, values) of one key on the chosen axis: steps, or seconds of wall time (points
        logged before wall times were recorded left out)."""
        steps, values = self.series.get(key, ([], []))
        if self.x_axis == "step":
            return steps, values
        pairs = [
            (s, v) for s, v in zip(self.elapsed.get(key, []), values, strict=True) if s is not None
        ]
        return [s for s, _ in pairs], [v for _, v in pairs]

    def draw(self) -> None:
        curves = []
        keyed = {key: self.axis(key) for key in shown_keys(self.metric)}
        xlabel, scale = "env steps", 1.0
        if self.x_axis == "wall":
            unit, scale = wall_unit(max((xs[-1] for xs, _ in keyed.values() if xs), default=0))
            xlabel = f"wall time ({unit})"
        for key, (xs, values) in keyed.items():
            steps = [x / scale for x in xs]
            if self.smoothing and len(values) > 2:
                curves.append(Curve(steps, values, color="gray"))  # raw, faint
                curves.append(Curve(steps, ema(values, self.smoothing), label=key))
            else:
                curves.append(Curve(steps, values, label=key))
        smoothing = f"smoothing {self.smoothing:g}" if self.smoothing else "no smoothing"
        self.query_one(MetricPlot).show(
            f"{self.metric}  ({smoothing}; m/M: metric, e: smoothing)",
            curves,
            xlabel=xlabel,
            integer_x=self.x_axis == "step",
            empty=f"{self.metric}: no points yet",
        )

    def action_toggle_x(self) -> None:
        self.x_axis = "wall" if self.x_axis == "step" else "step"
        self.draw()

    def action_save_plot(self, kind: str) -> None:
        if self.metric is None:
            self.query_one(MessageLine).say("nothing to plot yet")
            return
        self.query_one(MessageLine).say(f"saving the plot as {kind.upper()}…")
        self.act_with(
            actions.save_plot,
            [self.run_id],
            self.metric,
            self.smoothing,
            self.x_axis,
            None,
            kind,
        )

    def action_edit_labels(self) -> None:
        run = self.run
        if run is None:
            return
        labels = Labels(run.name, " ".join(run.tags), run.note or "")
        self.app.push_screen(LabelsModal(run.id, labels), self.labels_edited)

    def labels_edited(self, labels: Labels | None) -> None:
        if labels is not None:
            self.act_with(actions.set_labels, self.run_id, labels.name, labels.tags, labels.note)

    @work(thread=True, group="action", exit_on_error=False)
    def act_with(self, do, *args) -> None:
        """An action off the UI thread (a failure shows on the message line)."""
        self.post_message(ActionDone(do(self.app.store.home, *args)))

    def action_next_smoothing(self) -> None:
        index = SMOOTHING_STEPS.index(self.smoothing) if self.smoothing in SMOOTHING_STEPS else 0
        self.smoothing = SMOOTHING_STEPS[(index + 1) % len(SMOOTHING_STEPS)]
        self.draw()

    def action_toggle_config(self) -> None:
        self.every_field = not self.every_field
        self.show_header()

    def action_filter_log(self) -> None:
        self.query_one("#log-filter", Input).focus()

    def action_clone_run(self) -> None:
        """The launch dialog filled with this run's settings, to change and launch."""
        run = self.run
        if run is None:
            return
        self.app.open_launch(
            self.cloned,
            agent=run.agent,
            task=run.task,
            config=run.config,
            task_params=run.task_params,
            steps=run.total_steps,
            seeds=str(run.seed),
            init_from=run.id if run.checkpoint_path else None,
        )

    def cloned(self, run_ids: list[int] | None) -> None:
        if run_ids:
            text = f"launched run(s) {', '.join(map(str, run_ids))}; Esc shows them in the table"
            self.query_one(MessageLine).say(text)

    def show_metric(self, metric: str | None) -> None:
        if metric and metric != self.metric:
            self.metric = metric
            self.draw()
            self.refresh_run()

    def action_next_metric(self) -> None:
        if self.keys:
            index = self.keys.index(self.metric) + 1 if self.metric in self.keys else 0
            self.show_metric(self.keys[index % len(self.keys)])

    def action_pick_metric(self) -> None:
        if self.keys:
            self.app.push_screen(MetricPicker(self.keys, self.metric), self.show_metric)

    def on_action_done(self, message: ActionDone) -> None:
        self.query_one(MessageLine).say(message.text)
        if message.changed:
            self.refresh_run()

    @work(thread=True, group="action", exit_on_error=False)
    def act(self, action: str) -> None:
        home = self.app.store.home
        self.post_message(ActionDone(actions.control_runs(home, action, [self.run_id])))

    def action_stop_run(self) -> None:
        self.query_one(MessageLine).say(f"stop run {self.run_id}…")
        self.act("stop")

    def action_resume_run(self) -> None:
        self.query_one(MessageLine).say(f"resume run {self.run_id}…")
        self.act("resume")
