"""The group view: a comparison group's table from the fresh lifetimes already trained,
with its three plots below (each method's return with its 95% CI, that return against the
env steps spent, the searches' return against discount with the meta-gradient lifetimes'
paths); t trains the missing lifetimes in the background (`workbench study compare
GROUP`)."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from workbench.format import fixed, mean_ci
from workbench.tui import actions
from workbench.tui.messages import ActionDone, GroupRead, ReportsFailures
from workbench.tui.readers.studies import read_group
from workbench.tui.widgets.group_plots import GroupPlots
from workbench.tui.widgets.message_line import MessageLine


class GroupView(ReportsFailures, Screen[None]):
    """A group's comparison table and plots; x exports the table, t trains the missing
    fresh lifetimes."""

    PALETTE_PREFIX = "group"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("t", "train", "Train missing", tooltip="Train the missing fresh lifetimes"),
        Binding("x", "export", "Export", tooltip="The table to HOME/exports"),
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
        self.rows: list = []  # none until the first read (x before it exports nothing)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"group {escape(self.group)}: each method's choice on up to {self.lifetimes} fresh "
            "lifetimes (t trains the missing ones)",
            id="group-header",
        )
        yield DataTable(id="group-table", zebra_stripes=True)
        yield GroupPlots(id="group-plots")
        yield MessageLine("", id="study-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in self.COLUMNS:
            table.add_column(column, key=column)
        self.refresh_group()
        self.set_interval(5.0, self.refresh_group)

    @work(thread=True, exclusive=True, group="refresh-group", exit_on_error=False)
    def refresh_group(self) -> None:
        self.post_message(GroupRead(read_group(self.app.store.home, self.group, self.lifetimes)))

    def on_group_read(self, message: GroupRead) -> None:
        self.rows = message.figure.rows
        self.query_one(MessageLine).clear_failure()
        table = self.query_one(DataTable)
        table.clear()
        for row in self.rows:
            table.add_row(
                escape(row.method),  # the study's name: data, never markup
                row.agent,
                fixed(row.discount, 4),
                mean_ci(row.return_mean, row.return_ci95),
                str(row.fresh_lifetimes),
                str(row.lifetimes),
                f"{row.env_steps:,}",
                f"{row.wall_s:.0f} s",
            )
        self.query_one(GroupPlots).show(message.figure)

    def on_action_done(self, message: ActionDone) -> None:
        self.query_one(MessageLine).say(message.text)

    @work(thread=True, group="action", exit_on_error=False)
    def act(self, do, *args) -> None:
        self.post_message(ActionDone(do(self.app.store.home, *args)))

    def action_export(self) -> None:
        """The comparison rows (all fields, as `study compare --json`) to HOME/exports."""
        if not self.rows:
            self.query_one(MessageLine).say("nothing to export yet: the table is still empty")
            return
        data = [row.to_json() for row in self.rows]
        columns = list(data[0])
        rows = [[record[c] for c in columns] for record in data]
        self.act(actions.export_table, f"group-{self.group}", columns, rows)

    def action_train(self) -> None:
        self.act(actions.train_group, self.group, self.lifetimes)
