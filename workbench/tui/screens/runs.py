"""The runs screen: every run with live status, progress, speed, return and a sparkline."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from agents.base import RETURN_KEYS
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
    "id",
    "name",
    "agent",
    "task",
    "seed",
    "status",
    "progress",
    "steps/s",
    "return",
    "eval",
    "recent returns",
)


def recent_returns(store: Store, run_id: int, count: int = 16) -> list[float]:
    """The last training returns of a run, per episode or per meta-episode."""
    for key in RETURN_KEYS:
        values = store.recent_values(run_id, key, count)
        if values:
            return values
    return []


def run_cells(run: RunRecord, recent: list[float]) -> tuple[str, ...]:
    """The table cells of one run, in COLUMNS order."""
    summary = run.summary

    def number(key: str, digits: int = 1) -> str:
        value = summary.get(key)
        return "-" if value is None else f"{value:.{digits}f}"

    percent = 100 * run.steps_done / run.total_steps
    return (
        str(run.id),
        run.name,
        run.agent,
        run.task,
        str(run.seed),
        run.status,
        f"{percent:5.1f}%",
        number("steps_per_second", 0),
        number("last_return"),
        number("eval_return_mean"),
        sparkline(recent),
    )


class RunsScreen(Screen[None]):
    """Home screen: the table of runs, refreshed from the store in a worker thread."""

    BINDINGS = [
        Binding("n", "launch", "New run"),
        Binding("enter", "open_run", "Open"),
        Binding("s", "stop_run", "Stop"),
        Binding("r", "resume_run", "Resume"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(empty_hint(), id="hint")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="run-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.refresh_runs()
        self.set_interval(self.app.refresh_seconds, self.refresh_runs)

    @work(thread=True, exclusive=True, group="refresh-runs")
    def refresh_runs(self) -> None:
        store = Store(self.app.store.home)  # this thread's own connection
        try:
            runs = store.list_runs()
            rows = [run_cells(r, recent_returns(store, r.id)) for r in runs]
        finally:
            store.close()
        self.app.call_from_thread(self.show_rows, rows)

    def show_rows(self, rows: list[tuple[str, ...]]) -> None:
        table = self.query_one(DataTable)
        self.query_one("#hint").display = not rows
        table.display = bool(rows)
        wanted = {cells[0] for cells in rows}
        for key in [k.value for k in table.rows if k.value not in wanted]:
            table.remove_row(key)
        for cells in rows:
            if cells[0] in table.rows:
                for column, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(cells[0], column, value)
            else:
                table.add_row(*cells, key=cells[0])

    def selected_run_id(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return int(key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_run()

    def action_open_run(self) -> None:
        from workbench.tui.screens.run_view import RunView

        run_id = self.selected_run_id()
        if run_id is not None:
            self.app.push_screen(RunView(run_id))

    def action_launch(self) -> None:
        from workbench.tui.screens.launch import LaunchScreen

        self.app.push_screen(LaunchScreen(), self.launched)

    def launched(self, run_ids: list[int] | None) -> None:
        if run_ids:
            listed = ", ".join(map(str, run_ids))
            self.query_one("#run-message", Static).update(f"launched run(s) {listed}")
            self.refresh_runs()  # the rows appear now, not at the next tick

    def action_stop_run(self) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:
            control_run(self, "stop", run_id)

    def action_resume_run(self) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:
            control_run(self, "resume", run_id)


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
