"""The context view: the marked runs of one agent on one contextual task, grouped by their
context mode (hidden, explicit, learned, predictive, probing), each run's last checkpoint
played on every evaluation split of the family; the table of `workbench report context`
(mean return ± 95% CI over the runs of a mode, and the share of contexts solved). The
evaluation runs in a worker thread; x exports the table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from workbench.format import mean_ci
from workbench.store import Store
from workbench.tui import actions
from workbench.tui.messages import ActionDone, ContextRead, ReportsFailures
from workbench.tui.widgets.message_line import MessageLine

if TYPE_CHECKING:  # the report's module loads torch; the TUI starts without it
    from workbench.service.context_report import ContextReport

CONTEXTS = 100
"""Contexts of each split per run (`report context`'s default)."""


def read_context_table(home: Path, run_ids: list[int], on_run) -> ContextReport:
    """The context report of these runs, read and played in the calling thread."""
    from workbench.service.context_report import report_of_runs

    store = Store(home)
    try:
        return report_of_runs(store, run_ids, CONTEXTS, on_run)
    finally:
        store.close()


class ContextView(ReportsFailures, Screen[None]):
    """Modes x splits of the chosen runs; x exports the table."""

    PALETTE_PREFIX = "context"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("x", "export", "Export", tooltip="The table to HOME/exports"),
    ]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.report: ContextReport | None = None  # none until the evaluation ends

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"context table of {len(self.run_ids)} runs: every mode on every split, "
            f"{CONTEXTS} contexts per split and run",
            id="context-header",
        )
        yield DataTable(id="context-table", zebra_stripes=True)
        yield MessageLine("", id="context-message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(MessageLine).say("playing the runs' checkpoints on the splits…")
        self.evaluate()

    @work(thread=True, exclusive=True, group="context-table", exit_on_error=False)
    def evaluate(self) -> None:
        def progress(run_id: int) -> None:
            self.post_message(ActionDone(f"playing run {run_id} on every split…", False))

        report = read_context_table(self.app.store.home, self.run_ids, progress)
        self.post_message(ContextRead(report))

    def on_context_read(self, message: ContextRead) -> None:
        report = self.report = message.report
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_column("mode", key="mode")
        for split in report.splits:
            table.add_column(f"{split} ± 95% CI", key=split)
        solved = report.cells[0].solved is not None
        for mode in report.modes:
            cells = [report.cell(mode, split) for split in report.splits]
            texts = [
                mean_ci(c.mean, c.ci95) + (f" ({100 * c.solved:.0f}%)" if solved else "")
                for c in cells
            ]
            table.add_row(f"{mode} ({len(cells[0].runs)})", *texts)
        varied = report.task_params.get("varied") or "every factor"
        self.query_one("#context-header", Static).update(
            f"{escape(report.agent)} on {escape(report.task)} ({escape(varied)} varied), "
            f"{report.steps:,} steps; mean return ± 95% CI over each mode's runs"
            + (" (share of contexts solved)" if solved else "")
        )
        self.query_one(MessageLine).say(
            "runs: "
            + "; ".join(
                f"{mode} {','.join(map(str, report.cell(mode, report.splits[0]).runs))}"
                for mode in report.modes
            )
        )

    def on_action_done(self, message: ActionDone) -> None:
        self.query_one(MessageLine).say(message.text)

    @work(thread=True, group="action", exit_on_error=False)
    def act(self, do, *args) -> None:
        self.post_message(ActionDone(do(self.app.store.home, *args)))

    def action_export(self) -> None:
        """The cells (as `report context --json` gives them) to HOME/exports."""
        if self.report is None:
            self.query_one(MessageLine).say("nothing to export yet: the table is still playing")
            return
        from workbench.service.context_report import report_json

        cells = report_json(self.report)["cells"]
        columns = ["mode", "split", "mean", "ci95", "solved", "runs"]
        rows = [
            [cell[c] for c in columns[:-1]] + [",".join(map(str, cell["runs"]))] for cell in cells
        ]
        self.act(actions.export_table, f"context-{self.report.task}", columns, rows)
