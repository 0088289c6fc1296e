"""The study view: one study's trials, the optimisation history, return against
discount, and live curves of its running trials (each agent's main return metric)."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from workbench.format import fixed
from workbench.service.studies import StudyDetail, TrialRow
from workbench.tui import actions
from workbench.tui.messages import ActionDone, ReportsFailures, StudyRead
from workbench.tui.readers.studies import done, read_study
from workbench.tui.widgets.message_line import MessageLine
from workbench.tui.widgets.metric_plot import Curve, MetricPlot

MAX_TRIAL_ROWS = 500
"""Most trials the table shows: a study of 10,000 queued trials filled it again on every
refresh and took seconds to draw."""


def shown_trials(trials: list[TrialRow]) -> list[TrialRow]:
    """The trials the table shows, in number order: all of them, or MAX_TRIAL_ROWS with
    those that ran (or run) first, then the next queued ones."""
    if len(trials) <= MAX_TRIAL_ROWS:
        return trials
    ran = [t for t in trials if t.state != "waiting"]
    queued = [t for t in trials if t.state == "waiting"]
    chosen = (ran[-MAX_TRIAL_ROWS:] + queued)[:MAX_TRIAL_ROWS]
    return sorted(chosen, key=lambda t: t.number)


class StudyView(ReportsFailures, Screen[None]):
    """Trials, the optimisation history, value against discount, and live curves of the
    running trials."""

    PALETTE_PREFIX = "study"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("u", "run_study", "Run/resume", tooltip="Run or resume it in the background"),
        Binding("x", "stop_study", "Stop", tooltip="Ask its active runs to stop"),
    ]

    def __init__(self, name: str, url: str) -> None:
        super().__init__()
        self.study_name, self.url = name, url
        self.data: StudyDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="study-header")
        yield DataTable(id="trials-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="study-plots"):
            yield MetricPlot(id="history")
            yield MetricPlot(id="scatter")
            yield MetricPlot(id="live")
        yield MessageLine("", id="study-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # Fixed widths: columns sized from content depend on when the first rows arrive.
        widths = {"trial": 5, "state": 8, "return": 8, "discount": 8, "params": 28, "run": 6}
        for column, width in widths.items():
            table.add_column(column, key=column, width=width)
        self.refresh_study()
        self.set_interval(max(2.0, self.app.refresh_seconds), self.refresh_study)

    @work(thread=True, exclusive=True, group="refresh-study", exit_on_error=False)
    def refresh_study(self) -> None:
        self.post_message(StudyRead(read_study(self.app.store.home, self.study_name, self.url)))

    def on_study_read(self, message: StudyRead) -> None:
        self.data = data = message.data
        spec = data.spec
        self.query_one("#study-header", Static).update(
            f"[b]{escape(self.study_name)}[/b]  {spec.method} · {spec.agent} on {spec.task} · "
            f"{done(data.summary)}/{spec.trials} lifetimes of {spec.steps} steps · "
            f"{escape(', '.join(spec.params))}"
            + (
                f"\nthe table shows {MAX_TRIAL_ROWS} of {len(data.trials):,} trials (those "
                "that ran first); `workbench study show NAME` lists them all"
                if len(data.trials) > MAX_TRIAL_ROWS
                else ""
            )
        )
        self.query_one(MessageLine).clear_failure()
        table = self.query_one(DataTable)
        table.clear()
        for t in shown_trials(data.trials):
            cells = (
                str(t.number),
                t.state,
                fixed(t.value),
                fixed(t.discount, 4),
                ", ".join(f"{k}={v:.4g}" for k, v in t.params.items()) or "-",
                str(t.run_id if t.run_id is not None else "-"),
            )
            table.add_row(*map(escape, cells))
        complete = [t for t in data.trials if t.state == "complete"]
        numbers = [t.number for t in complete]
        values = [t.value for t in complete]
        best = [max(values[: i + 1]) for i in range(len(values))]
        self.query_one("#history", MetricPlot).show(
            "return per trial, best so far",
            [Curve(numbers, values, points=True), Curve(numbers, best, label="best")],
            xlabel="trial",
        )
        points = [(t.discount, t.value) for t in complete if t.discount is not None]
        self.query_one("#scatter", MetricPlot).show(
            "return against discount",
            [Curve([g for g, _ in points], [v for _, v in points], points=True)],
            integer_x=False,
        )
        self.query_one("#live", MetricPlot).show(
            f"running trials: {data.metric}",
            [Curve(c.steps, c.values, label=f"trial {n}") for n, c in data.live.items()],
            xlabel="env steps",
        )

    def on_action_done(self, message: ActionDone) -> None:
        self.query_one(MessageLine).say(message.text)

    @work(thread=True, group="action", exit_on_error=False)
    def act(self, do) -> None:
        self.post_message(ActionDone(do(self.app.store.home, self.study_name)))

    def action_run_study(self) -> None:
        self.act(actions.run_study)

    def action_stop_study(self) -> None:
        self.act(actions.stop_study)
