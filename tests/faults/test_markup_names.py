"""Names are data, never markup (issue 12, item 2): runs and studies named ``[/red] x``,
``[bold]`` or 9,999 characters list and show verbatim in the CLI and in every TUI screen,
where before one such name made `runs ls`, `runs show`, `study ls` and the TUI crash with
a MarkupError for the whole store."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.message_line import MessageLine

from ..test_tui import until
from .names import LONG, NAMES, marked_up_home


@pytest.mark.parametrize("name", NAMES, ids=["close-tag", "bold", "long"])
def test_runs_show_prints_the_whole_name_and_error(cli, home: Path, name: str) -> None:
    run_id = marked_up_home(home, studies=False)[name]
    result = cli("runs", "show", str(run_id))
    assert result.exit_code == 0, result.output
    assert f"run {run_id} {name}  failed" in result.stdout
    assert f"error: boom [/red] in {name[:20]}" in result.stdout
    assert cli.json("runs", "show", str(run_id))["name"] == name
    listing = cli("runs", "ls")  # the listing cuts a long name short to fit the terminal
    assert listing.exit_code == 0, listing.output
    assert "[/red] x" in listing.stdout and "[bold]" in listing.stdout
    assert LONG[:30] in listing.stdout
    assert {run["name"] for run in cli.json("runs", "ls")} == set(NAMES)


def test_study_ls_shows_markup_names_verbatim(cli, home: Path) -> None:
    marked_up_home(home)
    result = cli("study", "ls")
    assert result.exit_code == 0, result.output
    assert "[/red] x" in result.stdout
    assert "[bold]" in result.stdout
    assert LONG[:20] in result.stdout
    assert {study["name"] for study in cli.json("study", "ls")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES[:2], ids=["close-tag", "bold"])
def test_study_show_prints_a_markup_name(cli, home: Path, name: str) -> None:
    marked_up_home(home)
    result = cli("study", "show", name)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{name}  grid · a2c on cartpole")


# --- the TUI ------------------------------------------------------------------------------
def cell_texts(table: DataTable) -> list[str]:
    """Every cell of a table as the screen shows it (markup, if any, already applied)."""
    texts = []
    for row in range(table.row_count):
        for cell in table.get_row_at(row):
            texts.append(cell.plain if isinstance(cell, Text) else Text.from_markup(cell).plain)
    return texts


def shown(widget: Static) -> str:
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))


def table_rows(app: WorkbenchApp) -> int:
    tables = app.screen.query(DataTable)
    return tables.first().row_count if tables else 0


def showing(app: WorkbenchApp, screen: str, loaded: str) -> bool:
    """Whether the screen in front is ``screen`` with its first read drawn."""
    front = app.screen
    return type(front).__name__ == screen and getattr(front, loaded) is not None


async def test_every_tui_screen_shows_markup_names_verbatim(home: Path) -> None:
    ids = marked_up_home(home)
    app = WorkbenchApp(Store(home), refresh_seconds=3600)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: table_rows(app) == 3)
        runs = cell_texts(app.screen.query_one(DataTable))
        assert "[/red] x" in runs and "[bold]" in runs and LONG[:39] + "…" in runs

        for name in NAMES:  # each run's view: header, and its error on the message line
            app.open_run(ids[name])
            await until(pilot, lambda: showing(app, "RunView", "run"))
            header = shown(app.screen.query_one("#run-header", Static))
            assert header.startswith(f"run {ids[name]} {name}  failed"), header[:80]
            app.pop_screen()
            await pilot.pause()

        app.open_studies()
        await until(pilot, lambda: table_rows(app) == 3)
        studies = cell_texts(app.screen.query_one(DataTable))
        assert "[/red] x" in studies and "[bold]" in studies and LONG in studies

        for name in NAMES:
            app.open_study(name, f"sqlite:///{home / 'workbench.db'}")
            await until(pilot, lambda: showing(app, "StudyView", "data"))
            header = shown(app.screen.query_one("#study-header", Static))
            assert header.startswith(f"{name}  grid · a2c on cartpole"), header[:80]
            app.pop_screen()
            await pilot.pause()


async def test_message_line_says_text_verbatim(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=3600)
    async with app.run_test() as pilot:
        line = app.screen.query_one(MessageLine)
        line.say("deleted run 1 ([/red] x) [bold]", failure=True)
        await pilot.pause()
        assert shown(line) == "deleted run 1 ([/red] x) [bold]"


def test_tui_runs_screen_snapshot_with_markup_names(snap_compare, home: Path) -> None:
    marked_up_home(home, studies=False)

    async def before(pilot) -> None:
        await until(pilot, lambda: pilot.app.screen.query_one(DataTable).row_count == 3)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)

    app = WorkbenchApp(Store(home), refresh_seconds=3600)
    app.sub_title = "snapshot store"
    assert snap_compare(app, terminal_size=(160, 12), run_before=before)
