"""The studies screen: every study the home knows with its method, progress, best return
and state; create, run or resume (a detached `workbench study run`), stop, open one, or
open its group's comparison."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from workbench.service.studies import LIST_COLUMNS
from workbench.tui import actions
from workbench.tui.messages import ActionDone, ReportsFailures, StudiesRead
from workbench.tui.readers.studies import StudyRow, read_studies
from workbench.tui.widgets.message_line import MessageLine


class StudiesScreen(ReportsFailures, Screen[None]):
    PALETTE_PREFIX = "study"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open_study", "Open", tooltip="Trials, history and live curves"),
        Binding("c", "create_study", "Create", tooltip="The create-study dialog"),
        Binding("u", "run_study", "Run/resume", tooltip="Run or resume it in the background"),
        Binding("x", "stop_study", "Stop", tooltip="Ask its active runs to stop"),
        Binding("g", "group", "Group table", tooltip="Its comparison group's table"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[StudyRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "No studies yet. Press c to create one (or `workbench study create ...`).",
            id="studies-hint",
        )
        yield DataTable(id="studies-table", cursor_type="row", zebra_stripes=True)
        yield MessageLine("", id="study-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in LIST_COLUMNS:
            table.add_column(column, key=column)
        self.refresh_studies()
        self.set_interval(max(2.0, self.app.refresh_seconds), self.refresh_studies)

    @work(thread=True, exclusive=True, group="refresh-studies", exit_on_error=False)
    def refresh_studies(self) -> None:
        self.post_message(StudiesRead(read_studies(self.app.store.home)))

    def on_studies_read(self, message: StudiesRead) -> None:
        self.rows = rows = message.rows
        table = self.query_one(DataTable)
        self.query_one("#studies-hint").display = not rows
        table.display = bool(rows)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*map(escape, row.cells), key=row.name)  # names are data
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def selected(self) -> StudyRow | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return self.rows[table.cursor_row]

    def message(self, text: str) -> None:
        self.query_one(MessageLine).say(text)

    def on_action_done(self, message: ActionDone) -> None:
        self.message(message.text)
        if message.changed:
            self.refresh_studies()

    @work(thread=True, group="action", exit_on_error=False)
    def act(self, do, name: str) -> None:
        self.post_message(ActionDone(do(self.app.store.home, name)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_study()

    def action_open_study(self) -> None:
        row = self.selected()
        if row and row.state != "unreachable":
            self.app.open_study(row.name, row.url)

    def action_create_study(self) -> None:
        self.app.open_create_study(self.created)

    def created(self, name: str | None) -> None:
        if name:
            self.message(f"created study {name}; u runs it")
            self.refresh_studies()

    def action_run_study(self) -> None:
        row = self.selected()
        if row is not None:
            self.act(actions.run_study, row.name)

    def action_stop_study(self) -> None:
        row = self.selected()
        if row is not None:
            self.act(actions.stop_study, row.name)

    def action_group(self) -> None:
        row = self.selected()
        if row is None or not row.group:
            self.message("this study has no group (study create --group G)")
            return
        self.app.open_group(row.group)
