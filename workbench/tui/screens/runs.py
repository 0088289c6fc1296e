"""The runs screen: every run with live status, progress, speed, return and a sparkline."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from agents.common.base import RETURN_KEYS
from workbench import runner
from workbench.store import RunRecord, Store, StoreError
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
        "No runs yet. Start one from a shell and watch it here:\n"
        f"  {command} run dqn cartpole --steps 50000 --background\n"
        f"`{command} agents` and `{command} tasks` list what can be trained."
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
SORTS = ("id", "status", "agent", "task", "progress", "eval", "best")
"""Columns ``o`` cycles the sort through (id ascending, the others descending)."""


def recent_returns(store: Store, run_id: int, count: int = 16) -> list[float]:
    """The last training returns of a run, per episode or per meta-episode."""
    for key in RETURN_KEYS:
        values = store.recent_values(run_id, key, count)
        if values:
            return values
    return []


def run_cells(run: RunRecord, recent: list[float], marked: bool = False) -> tuple[str, ...]:
    """The table cells of one run, in COLUMNS order."""
    summary = run.summary

    def number(key: str, digits: int = 1) -> str:
        value = summary.get(key)
        return "-" if value is None else f"{value:.{digits}f}"

    percent = min(100.0, 100 * run.steps_done / run.total_steps)  # batches overshoot
    return (
        "✓" if marked else "",
        str(run.id),
        run.name,
        run.agent,
        run.task,
        str(run.seed),
        run.status,
        f"{percent:5.1f}%",
        number("steps_per_second", 0),
        number("last_return"),
        number("best_return"),
        number("eval_return_mean"),
        sparkline(recent),
    )


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


RowCache = dict[int, tuple[tuple, RunRecord, list[float]]]


def read_runs(store: Store, cache: RowCache) -> RowCache:
    """Every run with its recent returns, parsing rows and reading returns only for the
    runs whose row changed (status, steps, summary, name) since ``cache`` was made."""
    stamps = store.run_stamps()
    changed = [run_id for run_id, stamp in stamps.items() if cache.get(run_id, (None,))[0] != stamp]
    fresh: RowCache = {run_id: cache[run_id] for run_id in stamps if run_id not in changed}
    for run in store.get_runs(changed):
        fresh[run.id] = (stamps[run.id], run, recent_returns(store, run.id))
    return dict(sorted(fresh.items()))


class RunsScreen(Screen[None]):
    """Home screen: the table of runs, refreshed from the store in a worker thread.

    Only runs whose row changed since the last refresh (status, steps, summary) have
    their recent returns read again, so a store of hundreds of runs refreshes cheaply.
    """

    AUTO_FOCUS = "#runs-table"
    BINDINGS = [
        Binding("n", "launch", "New run"),
        Binding("enter", "open_run", "Open"),
        Binding("space", "mark", "Mark"),
        Binding("v", "compare", "Compare"),
        Binding("s", "stop_run", "Stop"),
        Binding("r", "resume_run", "Resume"),
        Binding("d", "delete_runs", "Delete"),
        Binding("x", "export_runs", "Export"),
        Binding("X", "export_table", "Export table", show=False),
        Binding("o", "next_sort", "Sort"),
        Binding("slash", "filter", "Filter"),
        Binding("p", "toggle_pause", "Pause refresh"),
        Binding("S", "studies", "Studies"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[int] = set()
        self.cache: RowCache = {}
        self.cells: dict[int, tuple[tuple, tuple[str, ...]]] = {}
        self.sort = "id"
        self.paused = False
        self.delete_armed: tuple[int, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(empty_hint(), id="hint")
        yield Input(placeholder="filter runs: agent, task, name or status (/)", id="runs-filter")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="run-message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs-filter").display = False  # / shows it
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.refresh_runs()
        self.set_interval(self.app.refresh_seconds, self.tick)

    def tick(self) -> None:
        if not self.paused:
            self.refresh_runs()

    @work(thread=True, exclusive=True, group="refresh-runs", exit_on_error=False)
    def refresh_runs(self) -> None:
        store = Store(self.app.store.home)  # this thread's own connection
        try:
            fresh = read_runs(store, self.cache)
        finally:
            store.close()
        self.app.call_from_thread(self.show_rows, fresh)

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

    def show_rows(self, fresh: dict | None = None) -> None:
        if fresh is not None:
            self.cache = fresh
            self.marked &= set(fresh)
        table = self.query_one(DataTable)
        self.query_one("#hint").display = not self.cache
        table.display = bool(self.cache)
        if table.display and self.focused is not self.query_one("#runs-filter"):
            table.focus()  # keys act on runs; / moves to the filter
        rows, dirty = [], set()
        for run, recent in self.visible_runs():
            key = (self.cache[run.id][0], run.id in self.marked)
            memo = self.cells.get(run.id)
            if memo is None or memo[0] != key:  # only changed runs are formatted again
                memo = (key, run_cells(run, recent, run.id in self.marked))
                self.cells[run.id] = memo
                dirty.add(memo[1][1])
            rows.append(memo[1])
        order = [cells[1] for cells in rows]
        current = [key.value for key in table.rows]
        if current != order:  # membership or order changed: rebuild, keep the cursor's run
            selected = self.selected_run_id()
            table.clear()
            for cells in rows:
                table.add_row(*cells, key=cells[1])
            if selected is not None and str(selected) in order:
                table.move_cursor(row=order.index(str(selected)))
            return
        for cells in rows:
            if cells[1] not in dirty:
                continue
            for column, value in zip(COLUMNS, cells, strict=True):
                if table.get_cell(cells[1], column) != value:
                    table.update_cell(cells[1], column, value, update_width=True)

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
        self.query_one("#run-message", Static).update(text)

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

    def action_open_run(self) -> None:
        from workbench.tui.screens.run_view import RunView

        run_id = self.selected_run_id()
        if run_id is not None:
            self.app.push_screen(RunView(run_id))

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
        from workbench.tui.screens.compare import CompareView

        runs = self.chosen()
        if len(runs) < 2:
            self.message("mark two or more runs with space, then press v to compare them")
            return
        self.app.push_screen(CompareView(runs))

    def action_next_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.message(f"sorted by {self.sort}")
        self.show_rows()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.message("auto-refresh paused (p resumes)" if self.paused else "auto-refresh on")

    def action_launch(self) -> None:
        from workbench.tui.screens.launch import LaunchScreen

        self.app.push_screen(LaunchScreen(), self.launched)

    def launched(self, run_ids: list[int] | None) -> None:
        if run_ids:
            self.message(f"launched run(s) {', '.join(map(str, run_ids))}")
            self.refresh_runs()  # the rows appear now, not at the next tick

    def action_studies(self) -> None:
        from workbench.tui.screens.studies import StudiesScreen

        self.app.push_screen(StudiesScreen())

    def action_stop_run(self) -> None:
        for run_id in self.chosen():
            control_run(self, "stop", run_id)

    def action_resume_run(self) -> None:
        for run_id in self.chosen():
            control_run(self, "resume", run_id)

    def action_delete_runs(self) -> None:
        runs = tuple(self.chosen())
        if not runs:
            return
        if self.delete_armed != runs:
            self.delete_armed = runs
            self.message(f"delete run(s) {', '.join(map(str, runs))}? press d again to confirm")
            return
        self.delete_armed = None
        store = self.app.store
        deleted, refused = [], []
        for run_id in runs:
            try:
                store.delete_run(run_id)
                deleted.append(run_id)
            except StoreError as err:
                refused.append(str(err))
        self.marked -= set(deleted)
        self.message("; ".join([f"deleted {len(deleted)} run(s)"] * bool(deleted) + refused))
        self.refresh_runs()

    def action_export_table(self) -> None:
        """The runs table as shown (filter and sort) to HOME/exports/runs.csv and .json."""
        from workbench.export import write_table

        columns = [c for c in COLUMNS if c not in ("✓", "recent returns")]
        rows = [
            list(cells[1:-1])
            for cells in (run_cells(run, recent) for run, recent in self.visible_runs())
        ]
        paths = write_table(self.app.store.home / "exports", "runs", columns, rows)
        self.message(f"wrote {len(rows)} runs to {paths[0]} and {paths[1]}")

    def action_export_runs(self) -> None:
        runs = self.chosen()
        if runs:
            export_runs(self, runs)


def export_runs(screen: Screen, run_ids: list[int]) -> None:
    """Each run's metrics to HOME/exports/run-ID.csv (a row per step, a column per key)."""
    from workbench.export import metrics_csv

    def work_in_thread() -> None:
        store = Store(screen.app.store.home)
        folder = store.home / "exports"
        folder.mkdir(exist_ok=True)
        try:
            for run_id in run_ids:
                (folder / f"run-{run_id}.csv").write_text(metrics_csv(store, run_id)[0])
            text = f"exported {len(run_ids)} run(s) to {folder}/run-ID.csv"
        except StoreError as err:
            text = str(err)
        finally:
            store.close()
        screen.app.call_from_thread(screen.query_one("#run-message", Static).update, text)

    screen.run_worker(work_in_thread, thread=True, group="export")


def control_run(screen: Screen, action: str, run_id: int) -> None:
    """Stop or resume a run off the UI thread; the outcome shows in #run-message."""
    message = screen.query_one("#run-message", Static)
    message.update(f"{action} run {run_id}…")

    def work_in_thread() -> None:
        store = Store(screen.app.store.home)
        try:
            if action == "stop":
                run = store.get_run(run_id)
                if run.status not in ("queued", "running"):
                    raise StoreError(f"run {run_id} is {run.status}; nothing to stop")
                run = runner.stop(store, run_id)
                text = f"run {run_id} {run.status} at step {run.steps_done}"
            else:
                run = runner.resume(store, run_id)
                text = f"run {run_id} resumed from step {run.checkpoint_step}"
        except StoreError as err:
            text = str(err)
        finally:
            store.close()
        screen.app.call_from_thread(message.update, text)

    screen.run_worker(work_in_thread, thread=True, group="control")
