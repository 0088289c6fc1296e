"""The TUI's part of issue 17: tags shown and filtered in the runs table, the name, tags
and note edited in the run view (and seen by the CLI), the x axis switched to wall time
in the run and compare views, and the plot saved as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable, Input, Static, TextArea

from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.compare import CompareView
from workbench.tui.screens.run_view import RunView
from workbench.tui.widgets.labels_form import LabelsModal
from workbench.tui.widgets.message_line import MessageLine
from workbench.tui.widgets.metric_plot import MetricPlot

from .test_tui import until

KEY = "charts/episode_return"


def timed_run(store: Store, seed: int, tags: list[str] = ()) -> int:
    """A completed run whose returns were logged 30 s apart (steps 100..400)."""
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=seed, total_steps=400
    )
    store.claim(run_id, pid=1)
    rows = [(KEY, 100 * k, float(k + seed), 1_700_000_000 + 30.0 * k) for k in range(4)]
    store.write_metrics(run_id, rows, 400, summary={"last_return": 3.0})
    store.finish(run_id, "completed")
    if tags:
        store.retag(run_id, add=tags)
    return run_id


def message(app) -> str:
    return str(app.screen.query_one(MessageLine).render())


def cells(table: DataTable) -> list[list[str]]:
    """Every row's cells as the screen shows them (markup, if any, applied)."""
    return [
        [Text.from_markup(str(c)).plain for c in table.get_row_at(row)]
        for row in range(table.row_count)
    ]


async def test_tags_show_in_the_table_and_filter_it(home: Path) -> None:
    store = Store(home)
    timed_run(store, 0, ["baseline", "[b]x"])
    timed_run(store, 1)
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(200, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        table = app.screen.query_one(DataTable)
        columns = [column.key.value for column in table.columns.values()]
        assert "tags" in columns
        assert "[b]x baseline" in cells(table)[0]  # a tag is data, never markup
        await pilot.press("slash", *"baseline")
        await until(pilot, lambda: table.row_count == 1)
        assert cells(table)[0][1] == "1"
        store.retag(2, add=["baseline"])  # tagged from the CLI meanwhile: the table follows
        await until(pilot, lambda: table.row_count == 2)


async def test_name_tags_and_note_edited_in_the_run_view_reach_the_cli(home: Path, cli) -> None:
    store = Store(home)
    run_id = timed_run(store, 0, ["old"])
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.run)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LabelsModal))
        modal = app.screen
        modal.query_one("#labels-name", Input).value = "[red]renamed"
        modal.query_one("#labels-tags", Input).value = "paper, fig-2"
        modal.query_one("#labels-note", TextArea).text = "first line\nsecond line"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "saved its name" in message(app))
        await until(pilot, lambda: app.screen.run.tags == ["fig-2", "paper"])
        header = str(app.screen.query_one("#run-header", Static).render())
        assert "[red]renamed" in header and "tags: fig-2 paper" in header
        assert "note: first line (+1 lines)" in header
        # A bad tag is refused inline and nothing is written.
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LabelsModal))
        app.screen.query_one("#labels-tags", Input).value = "x" * 70
        app.screen.query_one("#labels-name", Input).value = "not saved"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "one word of 1 to 64" in message(app))
    shown = cli.json("runs", "show", str(run_id))
    assert (shown["name"], shown["tags"], shown["note"]) == (
        "[red]renamed",
        ["fig-2", "paper"],
        "first line\nsecond line",
    )
    assert [r["id"] for r in cli.json("runs", "ls", "--tag", "paper")] == [run_id]


async def test_run_view_switches_to_wall_time_and_saves_the_plot(home: Path) -> None:
    store = Store(home)
    timed_run(store, 0)
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.series)
        await pilot.press("e", "e", "e")  # 0.6 -> 0.9 -> 0.97 -> off: the curve is the data
        assert app.screen.smoothing == 0
        plot = app.screen.query_one(MetricPlot)
        assert list(plot.curves[0].xs) == [0, 100, 200, 300]
        await pilot.press("x")
        assert list(plot.curves[0].xs) == [0.0, 30.0, 60.0, 90.0]  # seconds
        await pilot.press("p")
        png = home / "exports" / f"plot-1-{KEY.replace('/', '_')}-wall.png"
        await until(pilot, lambda: png.exists() and "saved the plot" in message(app))
        assert png.read_bytes().startswith(b"\x89PNG")
        await pilot.press("P")
        await until(pilot, lambda: png.with_suffix(".svg").exists())


async def test_compare_view_switches_to_wall_time_and_saves_the_plot(home: Path) -> None:
    store = Store(home)
    ids = [timed_run(store, 0), timed_run(store, 1)]
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        app.open_compare(ids)
        await until(pilot, lambda: isinstance(app.screen, CompareView) and app.screen.series)
        plot = app.screen.query_one(MetricPlot)
        await pilot.press("x")
        await until(pilot, lambda: plot.curves and max(plot.curves[-1].xs) == 90.0)
        await pilot.press("p")
        png = home / "exports" / f"plot-1-2-{KEY.replace('/', '_')}-wall.png"
        await until(pilot, lambda: png.exists() and "saved the plot" in message(app))
        assert png.stat().st_size > 1000


async def test_runs_screen_exports_the_marked_runs_for_tensorboard(home: Path) -> None:
    from tensorboard.backend.event_processing import event_accumulator  # the dev extra

    store = Store(home)
    ids = [timed_run(store, 0), timed_run(store, 1)]
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        await pilot.press("space", "space", "T")
        await until(pilot, lambda: "exported 2 run(s)" in message(app))
    for run_id in ids:
        accumulator = event_accumulator.EventAccumulator(
            str(home / "exports" / "tensorboard" / f"run-{run_id}")
        )
        accumulator.Reload()
        values = [event.value for event in accumulator.Scalars(KEY)]
        assert values == [float(k + run_id - 1) for k in range(4)]
