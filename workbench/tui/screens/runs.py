"""The runs screen: every run with live status, progress, speed, return and a sparkline."""

from __future__ import annotations

from functools import partial

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from workbench.tui import actions
from workbench.tui.messages import ActionDone, ReportsFailures, RunsRead
from workbench.tui.readers.groups import CurveCache, Group, read_table
from workbench.tui.readers.runs import RowCache
from workbench.tui.table_rows import (
    COLUMNS,
    GROUP_PREFIX,
    SORTS,
    Entry,
    column_widths,
    empty_hint,
    entries,
    fitting_columns,
    group_cells,
    member_cells,
    run_cells,
    shortened,
)
from workbench.tui.widgets.confirm import ConfirmationModal
from workbench.tui.widgets.message_line import MessageLine

__all__ = ["RunsScreen", "run_cells"]


class RunsScreen(ReportsFailures, Screen[None]):
    """Home screen: the table of runs, refreshed from the store in a worker thread.

    Only runs whose row changed since the last refresh (status, steps, summary) have
    their recent returns read again, so a store of hundreds of runs refreshes cheaply.
    A population's members and a study's lifetimes show as one group row (collapsed at
    first; e expands it to its members, enter opens their median curve); the keys that
    act on runs act on all of a group's members when its row is under the cursor.
    """

    PALETTE_PREFIX = "run"
    AUTO_FOCUS = "#runs-table"
    BINDINGS = [
        Binding("n", "launch", "New run", tooltip="Open the launch dialog"),
        Binding("enter", "open_run", "Open", tooltip="The run's live curve, config and log"),
        Binding(
            "e",
            "toggle_group",
            "Expand",
            tooltip="Show or hide the members of the group under the cursor",
        ),
        Binding("space", "mark", "Mark ↓", tooltip="Mark or unmark the run, then move down"),
        Binding("v", "compare", "Compare", tooltip="Overlay the marked runs' curves"),
        Binding("c", "context", "Contexts", show=False, tooltip="Modes x splits of the runs"),
        Binding("s", "stop_run", "Stop", tooltip="Stop the marked runs (or the cursor's)"),
        Binding("r", "resume_run", "Resume", tooltip="Resume the marked runs (or the cursor's)"),
        Binding("d", "delete_runs", "Delete", show=False, tooltip="Delete the chosen runs"),
        Binding("x", "export_runs", "Export CSV", show=False, tooltip="Metrics to HOME/exports"),
        Binding("X", "export_table", "Export table", show=False, tooltip="The table as shown"),
        Binding(
            "T",
            "export_tensorboard",
            "Export TensorBoard",
            show=False,
            tooltip="Event files to HOME/exports/tensorboard, a folder per run",
        ),
        Binding("o", "next_sort", "Sort", show=False, tooltip="Cycle the sort column"),
        Binding("slash", "filter", "Filter", tooltip="Filter by agent, task, name, status or tag"),
        Binding("escape", "leave_filter", "Leave filter", show=False),
        Binding("p", "toggle_pause", "Pause refresh", show=False, tooltip="Live updates"),
        Binding("S", "studies", "Studies", tooltip="The studies screen"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[int] = set()
        self.cache: RowCache = {}
        self.curves: CurveCache = {}
        self.groups: dict[str, Group] = {}
        self.expanded: set[str] = set()
        self.cells: dict[str, tuple[tuple, tuple[str, ...]]] = {}
        self.dirty: set[str] = set()  # keys of the rows formatted again by this draw
        self.columns: tuple[str, ...] = ()
        self.widths: tuple[int, ...] = ()
        self.sort = "id"
        self.paused = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(empty_hint(), id="hint")
        yield Input(
            placeholder="filter runs: agent, task, name, status or tag (/; Esc leaves)",
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
        table = read_table(self.app.store.home, self.cache, self.curves)
        self.post_message(RunsRead(table.rows, table.curves, table.groups))

    def on_runs_read(self, message: RunsRead) -> None:
        self.cache, self.curves, self.groups = message.rows, message.curves, message.groups
        self.marked &= set(message.rows)
        self.expanded &= set(message.groups)
        self.show_rows()

    def on_resize(self) -> None:
        self.show_rows()

    def visible(self) -> list[Entry]:
        pattern = self.query_one("#runs-filter", Input).value
        return entries(self.cache, self.groups, pattern, self.sort)

    def memo(self, key: str, stamp: tuple, make) -> tuple[str, ...]:
        """A row's cells, formatted again only when its stamp changed; ``dirty`` collects
        the keys of the rows that were."""
        memo = self.cells.get(key)
        if memo is None or memo[0] != stamp:
            memo = (stamp, shortened(make()))
            self.cells[key] = memo
            self.dirty.add(key)
        return memo[1]

    def table_rows(self) -> list[tuple[str, tuple[str, ...]]]:
        """(row key, cells) of every line shown: lone runs, groups and expanded members."""
        rows = []
        for entry in self.visible():
            if entry.group is None:
                run, recent = entry.run, entry.recent
                rows.append((str(run.id), self.run_row(run, recent)))
                continue
            group, key = entry.group, GROUP_PREFIX + entry.group.key
            expanded = group.key in self.expanded
            marked = len(self.marked.intersection(group.members))
            cells = self.memo(
                key, (group, expanded, marked), partial(group_cells, group, expanded, marked)
            )
            rows.append((key, cells))
            if expanded:
                for index, (run, recent) in enumerate(entry.members):
                    last = index == len(entry.members) - 1
                    rows.append((str(run.id), self.run_row(run, recent, last)))
        return rows

    def run_row(self, run, recent, last: bool | None = None) -> tuple[str, ...]:
        """A run's cells; under its group (``last`` given) with a tree branch."""
        marked = run.id in self.marked
        # The shown status too: a stalled run's row stays the same while its time grows.
        stamp = (self.cache[run.id][0], marked, run.shown_status(), last)

        def make() -> tuple[str, ...]:
            cells = run_cells(run, recent, marked)
            return cells if last is None else member_cells(cells, last)

        return self.memo(str(run.id), stamp, make)

    def show_rows(self) -> None:
        table = self.query_one(DataTable)
        self.query_one("#hint").display = not self.cache
        table.display = bool(self.cache)
        if table.display and self.focused is not self.query_one("#runs-filter"):
            table.focus()  # keys act on runs; / moves to the filter
        self.dirty = set()
        keyed = self.table_rows()
        rows = [cells for _, cells in keyed]
        columns = fitting_columns(self.size.width or 200, rows)
        indexes = [COLUMNS.index(c) for c in columns]
        widths = column_widths(columns, rows)
        order = [key for key, _ in keyed]
        current = [key.value for key in table.rows]
        if (columns, widths) != (self.columns, self.widths) or current != order:
            # Columns, their widths, membership or order changed: rebuild, keep the
            # cursor's row. The widths are set here, not measured by the DataTable, which
            # measures new rows only when idle and kept lines drawn before at the old
            # widths (an expanded group's member ids were cut short).
            selected = self.selected_key()
            table.clear(columns=True)
            for column, width in zip(columns, widths, strict=True):
                table.add_column(column, key=column, width=width)
            self.columns, self.widths = columns, widths
            for key, cells in keyed:
                table.add_row(*(escape(cells[i]) for i in indexes), key=key)
            if selected is not None and selected in order:
                table.move_cursor(row=order.index(selected))
            return
        for key, cells in keyed:
            if key not in self.dirty:
                continue
            for column, index in zip(columns, indexes, strict=True):
                cell = escape(cells[index])  # a name is data, never markup
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell)

    def selected_key(self) -> str | None:
        """The row key under the cursor: a run's id, or GROUP_PREFIX and a group's key."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected_group(self) -> Group | None:
        key = self.selected_key()
        if key is None or not key.startswith(GROUP_PREFIX):
            return None
        return self.groups.get(key.removeprefix(GROUP_PREFIX))

    def selected_run_id(self) -> int | None:
        key = self.selected_key()
        return None if key is None or key.startswith(GROUP_PREFIX) else int(key)

    def chosen(self) -> list[int]:
        """The marked runs, else the one under the cursor (a group's: all its members)."""
        if self.marked:
            return sorted(self.marked)
        group = self.selected_group()
        if group is not None:
            return list(group.members)
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
        """A run's view, or a group's members' median curve with its band."""
        group = self.selected_group()
        if group is not None:
            self.app.open_members(group.name, list(group.members), group.metric)
            return
        run_id = self.selected_run_id()
        if run_id is not None:
            self.app.open_run(run_id)

    def action_toggle_group(self) -> None:
        """Expand the group under the cursor to its members, or collapse the group of
        the row under the cursor (its own row or a member's); the cursor stays on it."""
        group = self.selected_group()
        if group is None:
            run_id = self.selected_run_id()
            group = next((g for g in self.groups.values() if run_id in g.members), None)
            if group is None:
                self.message("e expands a group row (a population or a study's lifetimes)")
                return
        self.expanded ^= {group.key}
        self.show_rows()
        table = self.query_one(DataTable)
        keys = [key.value for key in table.rows]
        table.move_cursor(row=keys.index(GROUP_PREFIX + group.key))

    def action_mark(self) -> None:
        group = self.selected_group()
        if group is not None:  # all its members, or none when all were marked
            members = set(group.members)
            self.marked = self.marked - members if members <= self.marked else self.marked | members
        else:
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

    def action_context(self) -> None:
        """The marked runs' context modes on every evaluation split (`report context`)."""
        runs = self.chosen()
        if not runs:
            self.message("mark runs of one agent on a contextual task, then press c")
            return
        self.app.open_context(runs)

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
        runs = [
            item
            for entry in self.visible()
            for item in ([(entry.run, entry.recent)] if entry.group is None else entry.members)
        ]  # every run shown or in a group shown, members as plain rows
        rows = [list(cells[1:-1]) for cells in (run_cells(run, recent) for run, recent in runs)]
        self.act(actions.export_table, "runs", columns, rows)

    def action_export_tensorboard(self) -> None:
        runs = self.chosen()
        if runs:
            self.act(actions.export_tensorboard, runs)

    def action_export_runs(self) -> None:
        runs = self.chosen()
        if runs:
            self.act(actions.export_runs, runs)
