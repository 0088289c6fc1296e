"""Studies in the TUI: the list, one study's trials and plots, creating, running,
resuming and stopping studies, and a group's comparison table.

Studies run in `workbench study run` processes started here (detached: closing the UI
leaves them running); stopping a study asks its active runs in this store to stop, which
re-queues their trials.
"""

from __future__ import annotations

import subprocess
import sys

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Select, Static
from textual_plotext import PlotextPlot

from agents.registry import AGENTS
from envs.config import ConfigError
from envs.errors import UserError
from studies.storage import forget_storage, shared_storage
from studies.study import METHODS, StudySpec, load
from workbench.service import studies as service
from workbench.service.studies import LIST_COLUMNS
from workbench.store import ACTIVE, Store


def fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def start_study_process(home, name: str) -> None:
    """`workbench study run NAME` detached, its output in HOME/logs/study-NAME.log."""
    log = home / "logs" / f"study-{name}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("ab") as handle:
        subprocess.Popen(
            [sys.executable, "-m", "workbench", "--home", str(home), "study", "run", name],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_study_runs(store: Store, name: str) -> list[int]:
    stopped = []
    for run in store.study_runs(name):
        if run.status in ACTIVE:
            store.request_stop(run.id)
            stopped.append(run.id)
    return stopped


class StudiesScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open_study", "Open"),
        Binding("c", "create_study", "Create"),
        Binding("u", "run_study", "Run/resume"),
        Binding("x", "stop_study", "Stop"),
        Binding("g", "group", "Group table"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "No studies yet. Press c to create one (or `workbench study create ...`).",
            id="studies-hint",
        )
        yield DataTable(id="studies-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="study-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in LIST_COLUMNS:
            table.add_column(column, key=column)
        self.refresh_studies()
        self.set_interval(max(2.0, self.app.refresh_seconds), self.refresh_studies)

    @work(thread=True, exclusive=True, group="refresh-studies", exit_on_error=False)
    def refresh_studies(self) -> None:
        store = Store(self.app.store.home)
        try:
            rows = [
                s.to_json() | {"url": s.url, "cells": service.list_cells(s)}
                for s in service.list_studies(store)
            ]
        finally:
            store.close()
        self.app.call_from_thread(self.show_rows, rows)

    def show_rows(self, rows: list[dict]) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        self.query_one("#studies-hint").display = not rows
        table.display = bool(rows)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row["cells"], key=row["name"])
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def selected(self) -> dict | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return self.rows[table.cursor_row]

    def message(self, text: str) -> None:
        self.query_one("#study-message", Static).update(text)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_study()

    def action_open_study(self) -> None:
        row = self.selected()
        if row and row["state"] != "unreachable":
            self.app.push_screen(StudyView(row["name"], row["url"]))

    def action_create_study(self) -> None:
        self.app.push_screen(CreateStudyScreen(), self.created)

    def created(self, name: str | None) -> None:
        if name:
            self.message(f"created study {name}; u runs it")
            self.refresh_studies()

    def action_run_study(self) -> None:
        row = self.selected()
        if row is None:
            return
        start_study_process(self.app.store.home, row["name"])
        self.message(f"running study {row['name']} in the background (log: logs/study-*.log)")

    def action_stop_study(self) -> None:
        row = self.selected()
        if row is not None:
            stopped = stop_study_runs(self.app.store, row["name"])
            text = f"asked run(s) {', '.join(map(str, stopped))} to stop" if stopped else ""
            self.message(text or f"study {row['name']} has no active runs here")

    def action_group(self) -> None:
        row = self.selected()
        if row is None or not row.get("group"):
            self.message("this study has no group (study create --group G)")
            return
        self.app.push_screen(GroupView(row["group"]))


class StudyView(Screen[None]):
    """Trials, the optimisation history, value against discount, and live curves of the
    running trials."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("u", "run_study", "Run/resume"),
        Binding("x", "stop_study", "Stop"),
    ]

    def __init__(self, name: str, url: str) -> None:
        super().__init__()
        self.study_name, self.url = name, url

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="study-header")
        yield DataTable(id="trials-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="study-plots"):
            yield PlotextPlot(id="history")
            yield PlotextPlot(id="scatter")
            yield PlotextPlot(id="live")
        yield Static("", id="study-message")
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
        try:
            study, spec = load(shared_storage(self.url), self.study_name)
            trials = study.get_trials(deepcopy=False)
        except Exception:
            forget_storage(self.url)  # opened afresh on the next tick
            raise
        store = Store(self.app.store.home)
        try:
            live = {}
            for trial in trials:
                run_id = trial.user_attrs.get("run_id")
                if trial.state.name == "RUNNING" and run_id is not None:
                    rows = store.metrics(run_id, "eval/episode_return")
                    live[trial.number] = ([s for _, s, _ in rows], [v for _, _, v in rows])
        finally:
            store.close()
        self.app.call_from_thread(self.show, spec, trials, live)

    def show(self, spec: StudySpec, trials, live) -> None:
        done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
        self.query_one("#study-header", Static).update(
            f"[b]{self.study_name}[/b]  {spec.method} · {spec.agent} on {spec.task} · "
            f"{done}/{spec.trials} lifetimes of {spec.steps} steps · {', '.join(spec.params)}"
        )
        table = self.query_one(DataTable)
        table.clear()
        for t in trials:
            table.add_row(
                str(t.number),
                t.state.name.lower(),
                fmt(t.value),
                fmt(t.user_attrs.get("discount"), 4),
                ", ".join(f"{k}={v:.4g}" for k, v in t.params.items()) or "-",
                str(t.user_attrs.get("run_id", "-")),
            )
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        history = self.query_one("#history", PlotextPlot).plt
        history.clear_data()
        history.clear_figure()
        history.title("return per trial, best so far")
        if complete:
            numbers = [t.number for t in complete]
            values = [t.value for t in complete]
            best = [max(values[: i + 1]) for i in range(len(values))]
            history.scatter(numbers, values, marker="dot")
            history.plot(numbers, best, marker="braille", label="best")
        scatter = self.query_one("#scatter", PlotextPlot).plt
        scatter.clear_data()
        scatter.clear_figure()
        scatter.title("return against discount")
        points = [(t.user_attrs.get("discount"), t.value) for t in complete]
        points = [(g, v) for g, v in points if g is not None]
        if points:
            scatter.scatter([g for g, _ in points], [v for _, v in points], marker="dot")
        curves = self.query_one("#live", PlotextPlot).plt
        curves.clear_data()
        curves.clear_figure()
        curves.title("running trials: eval return")
        for number, (steps, values) in live.items():
            if steps:
                curves.plot(steps, values, marker="braille", label=f"trial {number}")
        for plot in self.query(PlotextPlot):
            plot.refresh()

    def action_run_study(self) -> None:
        start_study_process(self.app.store.home, self.study_name)
        self.query_one("#study-message", Static).update("running in the background")

    def action_stop_study(self) -> None:
        stopped = stop_study_runs(self.app.store, self.study_name)
        self.query_one("#study-message", Static).update(
            f"asked run(s) {', '.join(map(str, stopped))} to stop" if stopped else "no active runs"
        )


class GroupView(Screen[None]):
    """A group's comparison table from the fresh lifetimes already trained; t trains the
    missing ones in the background (`workbench study compare GROUP`)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("t", "train", "Train missing"),
        Binding("x", "export", "Export"),
    ]
    COLUMNS = (
        "method",
        "agent",
        "discount",
        "return ± 95% CI",
        "fresh",
        "lifetimes",
        "env steps",
        "wall",
    )

    def __init__(self, group: str, lifetimes: int = 5) -> None:
        super().__init__()
        self.group, self.lifetimes = group, lifetimes

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"group {self.group}: each method's choice on up to {self.lifetimes} fresh "
            "lifetimes (t trains the missing ones)",
            id="group-header",
        )
        yield DataTable(id="group-table", zebra_stripes=True)
        yield Static("", id="study-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in self.COLUMNS:
            table.add_column(column, key=column)
        self.refresh_group()
        self.set_interval(5.0, self.refresh_group)

    @work(thread=True, exclusive=True, group="refresh-group", exit_on_error=False)
    def refresh_group(self) -> None:
        store = Store(self.app.store.home)
        try:
            rows = service.compare_group(store, self.group, self.lifetimes, train=False)
        finally:
            store.close()
        self.app.call_from_thread(self.show, rows)

    def show(self, rows) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            value = (
                "-" if row.return_mean is None else f"{row.return_mean:.2f} ± {row.return_ci95:.2f}"
            )
            table.add_row(
                row.method,
                row.agent,
                fmt(row.discount, 4),
                value,
                str(row.fresh_lifetimes),
                str(row.lifetimes),
                f"{row.env_steps:,}",
                f"{row.wall_s:.0f} s",
            )

    def action_export(self) -> None:
        """The comparison rows (all fields, as `study compare --json`) to HOME/exports."""
        from workbench.export import write_table

        if not self.rows:
            return
        data = [row.to_json() for row in self.rows]
        columns = list(data[0])
        paths = write_table(
            self.app.store.home / "exports",
            f"group-{self.group}",
            columns,
            [[record[c] for c in columns] for record in data],
        )
        self.query_one("#study-message", Static).update(f"wrote {paths[0]} and {paths[1]}")

    def action_train(self) -> None:
        home = self.app.store.home
        log = home / "logs" / f"compare-{self.group}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("ab") as handle:
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "workbench",
                    "--home",
                    str(home),
                    "study",
                    "compare",
                    self.group,
                    "--lifetimes",
                    str(self.lifetimes),
                ],
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.query_one("#study-message", Static).update(f"training in the background ({log})")


class CreateStudyScreen(ModalScreen[str | None]):
    """Name, agent, task, method, trials, steps, searched params, fixed settings, group."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "create", "Create")]

    def compose(self) -> ComposeResult:
        with Vertical(id="launch-dialog"):
            yield Static("[b]Create a study[/b]  (Ctrl+S creates, Esc cancels)")
            rows = [
                ("name", Input(placeholder="a new name", id="study-name")),
                (
                    "agent",
                    Select(
                        [(a, a) for a in AGENTS], value="a2c", allow_blank=False, id="study-agent"
                    ),
                ),
                ("task", Input("cartpole", id="study-task")),
                (
                    "method",
                    Select(
                        [(m, m) for m in METHODS],
                        value="grid",
                        allow_blank=False,
                        id="study-method",
                    ),
                ),
                ("trials", Input("5", id="study-trials")),
                ("steps", Input("50000", id="study-steps")),
                (
                    "params",
                    Input(
                        "discount=0.9:0.999",
                        id="study-params",
                        tooltip="name=low:high[:log], several separated by spaces",
                    ),
                ),
                ("fixed", Input("", id="study-fixed", tooltip="key=value pairs, space separated")),
                (
                    "task params",
                    Input("", id="study-task-params", tooltip="key=value pairs, space separated"),
                ),
                ("group", Input("", id="study-group")),
            ]
            for label, widget in rows:
                with Horizontal(classes="launch-row"):
                    yield Label(label, classes="create-label")
                    yield widget
            yield Static("", id="create-error", classes="field-error")
            with Horizontal(classes="launch-row"):
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_create() if event.button.id == "create" else self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def value(self, widget_id: str) -> str:
        return str(self.query_one(f"#{widget_id}").value).strip()

    def action_create(self) -> None:
        error = self.query_one("#create-error", Static)
        name = self.value("study-name")
        try:
            if not name:
                raise ConfigError("give the study a name")
            method = self.value("study-method")
            spec = StudySpec.from_cli(
                agent=self.value("study-agent"),
                task=self.value("study-task"),
                method=method,
                trials=_integer(self.value("study-trials"), "trials"),
                steps=_integer(self.value("study-steps"), "steps"),
                # meta-gradient learns the discount: the searched fields do not apply
                params=None if method == "meta-gradient" else self.value("study-params").split(),
                fixed=_pairs(self.value("study-fixed"), "fixed"),
                task_params=_pairs(self.value("study-task-params"), "task params"),
                group=self.value("study-group") or None,
                pruner="none",
                sampler="tpe",
                seed=0,
            )
            service.create_study(self.app.store, name, spec)
        except UserError as err:  # a config error, or a storage that cannot be opened
            error.update(str(err))
            return
        self.dismiss(name)


def _integer(text: str, what: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"{what} {text!r}: give a whole number")
    return int(text)


def _pairs(text: str, what: str) -> dict[str, str]:
    pairs = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what}: {item!r} is not key=value")
        pairs[key] = value
    return pairs
