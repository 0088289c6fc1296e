"""The first TUI: empty-store hint, live runs table, and a run view with a curve."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import DataTable, Static

from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.run_view import RunView


async def until(pilot, predicate, timeout: float = 60.0) -> None:
    """Let the app run until predicate() holds (the screens refresh in worker threads, so
    a fixed pause is too short on a busy machine)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in the UI")
        await pilot.pause(0.1)


def completed_run(store: Store, returns: list[float]) -> int:
    run_id = store.create_run(
        agent="dqn",
        task="cartpole",
        config={},
        task_params={},
        seed=0,
        total_steps=100 * len(returns),
    )
    store.claim(run_id, pid=1)
    rows = [("charts/episode_return", 100 * (i + 1), r) for i, r in enumerate(returns)]
    store.write_metrics(
        run_id,
        rows,
        100 * len(returns),
        summary={"last_return": returns[-1], "steps_per_second": 1000.0},
    )
    store.finish(run_id, "completed")
    return run_id


async def test_empty_store_shows_what_to_do(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.1)
    async with app.run_test() as pilot:
        await pilot.pause(0.3)
        hint = app.screen.query_one("#hint", Static)
        assert hint.display
        assert "workbench run dqn cartpole" in str(hint.render())
        assert not app.screen.query_one(DataTable).display


async def test_runs_table_updates_live_and_opens_run_view(home: Path) -> None:
    store = Store(home)
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause(0.3)
        assert app.screen.query_one(DataTable).row_count == 0
        completed_run(store, [10.0, 20.0, 40.0])
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        table = app.screen.query_one(DataTable)
        assert table.get_row("1")[6] == "completed"
        assert table.get_row("1")[9] == "40.0"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.series)
        steps, values = app.screen.series["charts/episode_return"]
        assert (steps, values) == ([100, 200, 300], [10.0, 20.0, 40.0])
        header = str(app.screen.query_one("#run-header", Static).render())
        assert "completed" in header and "300/300 steps" in header
        await pilot.press("escape")
        assert not isinstance(app.screen, RunView)


async def test_resume_of_a_completed_run_is_refused_inline(home: Path) -> None:
    store = Store(home)
    completed_run(store, [1.0])
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("r")
        await until(
            pilot, lambda: "completed" in str(app.screen.query_one("#run-message").render())
        )
        message = str(app.screen.query_one("#run-message", Static).render())
        assert "run 1 is completed; only stopped, failed, lost runs resume" in message
