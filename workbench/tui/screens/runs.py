"""The runs screen: every run with live status, progress, speed, return and a sparkline."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from workbench.format import fixed
from workbench.store import RunRecord
from workbench.tui import actions
from workbench.tui.messages import ActionDone, ReportsFailures, RunsRead
from workbench.tui.readers.runs import RowCache, read_runs
from workbench.tui.widgets.confirm import ConfirmationModal
from workbench.tui.widgets.message_line import MessageLine
from workbench.tui.widgets.sparkline import sparkline


def workbench_command() -> str:
    """How to call the CLI from a shell here: bare if on PATH, else the venv's script."""
    if shutil.which("workbench"):
        return "workbench"
    script = Path(sys.executable).with_name("workbench")
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def empty_hint() -> str:
    command = workbench_command()
    return (
        "No runs yet. Press n to launch one here (a form with every setting), or start\n"
        "one from a shell and watch it here:\n"
        f"  {command} run dqn cartpole --steps 50000 --background\n"
        f"`{command} agents` and `{command} tasks` list what can be trained; ? shows the keys."
    )


COLUMNS = (
    "✓",
    "id",
    "name",
    "agent",
    "task",
    "seed",
    "status",
    "progress",
    "steps/s",
    "return",
    "best",
    "eval",
    "recent returns",
)
DROP_FIRST = ("name", "seed", "steps/s", "recent returns", "best")
"""Columns a narrow terminal hides, in this order: return and eval stay to the last."""
SORTS = ("id", "status", "agent", "task", "progress", "eval", "best")
"""Columns ``o`` cycles the sort through (id ascending, the others descending)."""


def run_cells(run: RunRecord, recent: list[float], marked: bool = False) -> tuple[str, ...]:
    """The table cells of one run, in COLUMNS order."""
    summary = run.summary
    percent = min(100.0, 100 * run.steps_done / run.total_steps)  # batches overshoot
    return (
        "✓" if marked else "",
        str(run.id),
        run.name,
        run.agent,
        run.task,
        str(run.seed),
        run.shown_status(),
        f"{percent:5.1f}%",
        fixed(summary.get("steps_per_second"), 0),
        fixed(summary.get("last_return"), 1),
        fixed(summary.get("best_return"), 1),
        fixed(summary.get("eval_return_mean"), 1),
        sparkline(recent),
    )


NAME_WIDTH = 40
"""A longer name is cut short in the table (whole in the run view and in exports), so one
long name does not push the name column off every run's row."""


def shortened(cells: tuple[str, ...]) -> tuple[str, ...]:
    """The cells with the name cut to NAME_WIDTH characters (the last one an ellipsis)."""
    index = COLUMNS.index("name")
    name = cells[index]
    if len(name) <= NAME_WIDTH:
        return cells
    return (*cells[:index], name[: NAME_WIDTH - 1] + "…", *cells[index + 1 :])


def fitting_columns(width: int, cells: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The columns that fit ``width``, hiding DROP_FIRST's in order until they do."""

    def column_width(index: int) -> int:
        return 2 + max([len(COLUMNS[index])] + [len(row[index]) for row in cells])

    shown = list(COLUMNS)
    need = sum(column_width(i) for i in range(len(COLUMNS))) + 2  # the scrollbar
    for name in DROP_FIRST:
        if need <= width:
            break
        shown.remove(name)
        need -= column_width(COLUMNS.index(name))
    return tuple(shown)


def sort_key(run: RunRecord, column: str):
    summary = run.summary
    return {
        "id": -run.id,
        "status": run.status,
        "agent": run.agent,
        "task": run.task,
        "progress": run.steps_done / run.total_steps,
        "eval": summary.get("eval_return_mean", float("-inf")),
        "best": summary.get("best_return", float("-inf")),
    }[column]


class RunsScreen(ReportsFailures, Screen[None]):
    """Home screen: the table of runs, refreshed from the store in a worker thread.

    Only runs whose row changed since the last refresh (status, steps, summary) have
    their recent returns read again, so a store of hundreds of runs refreshes cheaply.
    """

    PALETTE_PREFIX = "run"
    AUTO_FOCUS = "#runs-table"
    BINDINGS = [
        Binding("n", "launch", "New run", tooltip="Open the launch dialog"),
        Binding("enter", "open_run", "Open", tooltip="The run's live curve, config and log"),
        Binding("space", "mark", "Mark ↓", tooltip="Mark or unmark the run, then move down"),
        Binding("v", "compare", "Compare", tooltip="Overlay the marked runs' curves"),
        Binding("s", "stop_run", "Stop", tooltip="Stop the marked runs (or the cursor's)"),
        Binding("r", "resume_run", "Resume", tooltip="Resume the marked runs (or the cursor's)"),
        Binding("d", "delete_runs", "Delete", show=False, tooltip="Delete the chosen runs"),
        Binding("x", "export_runs", "Export CSV", show=False, tooltip="Metrics to HOME/exports"),
        Binding("X", "export_table", "Export table", show=False, tooltip="The table as shown"),
        Binding("o", "next_sort", "Sort", show=False, tooltip="Cycle the sort column"),
        Binding("slash", "filter", "Filter", tooltip="Filter by agent, task, name or status"),
        Binding("escape", "leave_filter", "Leave filter", show=False),
        Binding("p", "toggle_pause", "Pause refresh", show=False, tooltip="Live updates"),
        Binding("S", "studies", "Studies", tooltip="The studies screen"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[int] = set()
        self.cache: RowCache = {}
        self.cells: dict[int, tuple[tuple, tuple[str, ...]]] = {}
        self.columns: tuple[str, ...] = ()
        self.sort = "id"
        self.paused = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(empty_hint(), id="hint")
        yield Input(
            placeholder="filter runs: agent, task, name or status (/; Esc leaves)",
            id="runs-filter",
        )
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield MessageLine("", id="run-message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs-filter").display = False  # / shows it
        self.refresh_runs()
        self.set_interval(self.app.refresh_seconds, self.tick)

    def tick(self) -> None:
        if not self.paused:
            self.refresh_runs()

    @work(thread=True, exclusive=True, group="refresh-runs", exit_on_error=False)
    def refresh_runs(self) -> None:
        self.post_message(RunsRead(read_runs(self.app.store.home, self.cache)))

    def on_runs_read(self, message: RunsRead) -> None:
        self.cache = message.rows
        self.marked &= set(message.rows)
        self.show_rows()

    def on_resize(self) -> None:
        self.show_rows()

    def visible_runs(self) -> list[tuple[RunRecord, list[float]]]:
        pattern = self.query_one("#runs-filter", Input).value.strip().lower()
        rows = [
            (run, recent)
            for _, run, recent in self.cache.values()
            if not pattern
            or any(pattern in text.lower() for text in (run.agent, run.task, run.name, run.status))
        ]
        rows.sort(key=lambda item: sort_key(item[0], self.sort), reverse=self.sort != "status")
        if self.sort in ("agent", "task"):
            rows.reverse()
        return rows

    def show_rows(self) -> None:
        table = self.query_one(DataTable)
        self.query_one("#hint").display = not self.cache
        table.display = bool(self.cache)
        if table.display and self.focused is not self.query_one("#runs-filter"):
            table.focus()  # keys act on runs; / moves to the filter
        rows, dirty = [], set()
        for run, recent in self.visible_runs():
            # The shown status too: a stalled run's row stays the same while its time grows.
            key = (self.cache[run.id][0], run.id in self.marked, run.shown_status())
            memo = self.cells.get(run.id)
            if memo is None or memo[0] != key:  # only changed runs are formatted again
                memo = (key, shortened(run_cells(run, recent, run.id in self.marked)))
                self.cells[run.id] = memo
                dirty.add(memo[1][1])
            rows.append(memo[1])
        columns = fitting_columns(self.size.width or 200, rows)
        indexes = [COLUMNS.index(c) for c in columns]
        order = [cells[1] for cells in rows]
        current = [key.value for key in table.rows]
        if columns != self.columns or current != order:
            # columns, membership or order changed: rebuild, keep the cursor's run
            selected = self.selected_run_id()
            if columns != self.columns:
                table.clear(columns=True)
                for column in columns:
                    table.add_column(column, key=column)
                self.columns = columns
            else:
                table.clear()
            for cells in rows:
                table.add_row(*(escape(cells[i]) for i in indexes), key=cells[1])
            if selected is not None and str(selected) in order:
                table.move_cursor(row=order.index(str(selected)))
            return
        for cells in rows:
            if cells[1] not in dirty:
                continue
            for column, index in zip(columns, indexes, strict=True):
                cell = escape(cells[index])  # a name is data, never markup
                if table.get_cell(cells[1], column) != cell:
                    table.update_cell(cells[1], column, cell, update_width=True)

    def selected_run_id(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return int(key.value)

    def chosen(self) -> list[int]:
        """The marked runs, else the one under the cursor."""
        if self.marked:
            return sorted(self.marked)
        run_id = self.selected_run_id()
        return [] if run_id is None else [run_id]

    def message(self, text: str) -> None:
        self.query_one(MessageLine).say(text)

    def on_action_done(self, message: ActionDone) -> None:
        self.message(message.text)
        if message.changed:
            self.refresh_runs()  # the change shows now, not at the next tick

    @work(thread=True, group="action", exit_on_error=False)
    def act(self, do, *args) -> None:
        """Run an action off the UI thread; its line shows when it is done."""
        self.post_message(ActionDone(do(self.app.store.home, *args)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_run()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter":
            self.show_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.input.value)  # an empty filter goes away
        self.query_one(DataTable).focus()

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    def action_leave_filter(self) -> None:
        """Esc: back to the table (keys act on runs again); an empty filter goes away."""
        box = self.query_one("#runs-filter", Input)
        box.display = bool(box.value)
        self.query_one(DataTable).focus()

    def action_open_run(self) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:
            self.app.open_run(run_id)

    def action_mark(self) -> None:
        run_id = self.selected_run_id()
        if run_id is None:
            return
        self.marked ^= {run_id}
        self.show_rows()
        table = self.query_one(DataTable)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_compare(self) -> None:
        runs = self.chosen()
        if len(runs) < 2:
            self.message("mark two or more runs with space, then press v to compare them")
            return
        self.app.open_compare(runs)

    def action_next_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.message(f"sorted by {self.sort}")
        self.show_rows()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.message("auto-refresh paused (p resumes)" if self.paused else "auto-refresh on")

    def action_launch(self) -> None:
        self.app.open_launch(self.launched)

    def launched(self, run_ids: list[int] | None) -> None:
        if run_ids:
            self.message(f"launched run(s) {', '.join(map(str, run_ids))}")
            self.refresh_runs()  # the rows appear now, not at the next tick

    def action_studies(self) -> None:
        self.app.open_studies()

    def action_stop_run(self) -> None:
        runs = self.chosen()
        if runs:
            self.message(f"stop run(s) {', '.join(map(str, runs))}…")
            self.act(actions.control_runs, "stop", runs)

    def action_resume_run(self) -> None:
        runs = self.chosen()
        if runs:
            self.message(f"resume run(s) {', '.join(map(str, runs))}…")
            self.act(actions.control_runs, "resume", runs)

    def action_delete_runs(self) -> None:
        runs = self.chosen()
        if not runs:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.marked -= set(runs)
                self.act(lambda home, ids: actions.delete_runs(home, ids)[1], runs)

        question = (
            f"Delete run(s) {', '.join(map(str, runs))} with their metrics, checkpoints "
            "and logs?\npress d again (or y) to confirm, Esc or n to keep them"
        )
        self.app.push_screen(ConfirmationModal(question, confirm_key="d"), answered)

    def action_export_table(self) -> None:
        """The runs table as shown (filter and sort) to HOME/exports/runs.csv and .json."""
        columns = [c for c in COLUMNS if c not in ("✓", "recent returns")]
        rows = [
            list(cells[1:-1])
            for cells in (run_cells(run, recent) for run, recent in self.visible_runs())
        ]
        self.act(actions.export_table, "runs", columns, rows)

    def action_export_runs(self) -> None:
        runs = self.chosen()
        if runs:
            self.act(actions.export_runs, runs)
