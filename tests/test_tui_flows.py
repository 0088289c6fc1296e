"""The TUI's flows, driven with Textual's pilot: launch a run from the dialog and watch it,
an invalid field, compare and export, a study from creation to its group table, and a
clone that starts from its source run's networks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from workbench import runner
from workbench.smoothing import ema
from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.compare import CompareView
from workbench.tui.screens.create_study import CreateStudyScreen
from workbench.tui.screens.group_view import GroupView
from workbench.tui.screens.launch import LaunchScreen
from workbench.tui.screens.run_view import RunView
from workbench.tui.screens.studies import StudiesScreen
from workbench.tui.screens.study_view import StudyView
from workbench.tui.widgets.confirm import ConfirmationModal

from .test_tui import completed_run, until


def field(screen, name: str) -> Input:
    return next(w for w in screen.query(Input) if w.name == name)


def error_beside(screen, name: str) -> str:
    return next(str(w.render()) for w in screen.query(".field-error") if w.name == name)


def cell(app, run_id: int, column: str) -> str:
    return app.screen.query_one(DataTable).get_cell(str(run_id), column)


async def open_create_study_dialog(app, pilot) -> None:
    """From the runs screen: the studies screen, then its create dialog."""
    await pilot.press("S")
    await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, CreateStudyScreen))


def test_ema_is_debiased_and_zero_is_off() -> None:
    assert ema([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    assert ema([5.0, 5.0, 5.0], 0.9) == pytest.approx([5.0, 5.0, 5.0])


async def test_invalid_field_shows_inline_and_launches_nothing(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await until(pilot, lambda: app.screen.query("#agent-form Input"))  # composed
        field(app.screen, "learning_rate").value = "fast"
        field(app.screen, "discount").value = "1.5"
        await pilot.pause(0.1)
        assert error_beside(app.screen, "learning_rate") == (
            "learning_rate='fast' is not a valid float"
        )
        assert "out of range: allowed [0, 1]" in error_beside(app.screen, "discount")
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert isinstance(app.screen, LaunchScreen)  # still open, nothing launched
        assert "fix the fields marked in red" in str(
            app.screen.query_one("#launch-top-error", Static).render()
        )
        # A cross-field rule shows beside the field it names.
        field(app.screen, "learning_rate").value = "0.001"
        field(app.screen, "discount").value = "0.9"
        field(app.screen, "final_epsilon").value = "1.0"
        field(app.screen, "initial_epsilon").value = "0.5"
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert "final_epsilon=1.0 exceeds" in error_beside(app.screen, "final_epsilon")
        # Only the agent's tasks are offered; changing the agent rebuilds the form.
        app.screen.query_one("#agent", Select).value = "rl2"
        # rl2's form (its hidden_size is 128, dqn's 64), however long a busy machine takes
        await until(pilot, lambda: field(app.screen, "hidden_size").value == "128")
        assert app.screen.query_one("#task", Select).value == "bandit"
        await pilot.press("escape")
    assert Store(home).list_runs() == []


@pytest.mark.slow
async def test_launch_watch_and_stop_a_run_from_the_dialog(home: Path) -> None:
    store = Store(home)
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        app.screen.query_one("#steps", Input).value = "400000"
        for name, value in (("learning_starts", "200"), ("eval_interval", "2000")):
            field(app.screen, name).value = value
        field(app.screen, "eval_episodes").value = "3"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen))
        (run,) = store.list_runs()
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1, 10)
        await until(pilot, lambda: float(cell(app, run.id, "progress").rstrip("%")) > 0.5)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView))
        await until(pilot, lambda: len(app.screen.series.get("charts/episode_return", [[]])[0]) > 2)
        await until(pilot, lambda: "started dqn on cartpole" in "\n".join(app.screen.log_lines))
        await pilot.press("s")
        await until(pilot, lambda: store.get_run(run.id).status == "stopped", 30)
        await pilot.press("escape")
        await until(pilot, lambda: cell(app, run.id, "status") == "stopped", 10)


async def test_mark_compare_and_export(home: Path) -> None:
    store = Store(home)
    first = completed_run(store, [1.0, 2.0, 3.0, 4.0])
    second = completed_run(store, [2.0, 3.0, 4.0, 5.0])
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        await pilot.press("v")
        assert "mark two or more runs" in str(app.screen.query_one("#run-message").render())
        await pilot.press("space", "space")
        assert cell(app, first, "✓") == "✓" and cell(app, second, "✓") == "✓"
        await pilot.press("x")
        await until(pilot, lambda: (home / "exports" / f"run-{second}.csv").exists())
        header = (home / "exports" / f"run-{first}.csv").read_text().splitlines()[0]
        assert header == "step,charts/episode_return"
        await pilot.press("X")  # the table as shown, CSV and JSON
        await until(pilot, lambda: (home / "exports" / "runs.json").exists())
        rows = json.loads((home / "exports" / "runs.json").read_text())
        assert [(r["id"], r["status"], r["return"]) for r in rows] == [
            (str(first), "completed", "4.0"),
            (str(second), "completed", "5.0"),
        ]
        assert (home / "exports" / "runs.csv").read_text().startswith("id,name,agent")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, CompareView))
        await until(pilot, lambda: len(app.screen.series) == 2)
        assert app.screen.series[second] == ([100, 200, 300, 400], [2.0, 3.0, 4.0, 5.0])
        await pilot.press("g")  # same agent, task and config: one group of two
        header = str(app.screen.query_one("#compare-header").render())
        assert "grouped by population, study or config" in header
        await pilot.press("escape")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal))
        assert "press d again" in str(app.screen.query_one("#confirm-text").render())
        await pilot.press("d")
        await until(
            pilot,
            lambda: (
                app.screen.query_one(DataTable).row_count == 0
                or not app.screen.query_one(DataTable).display
            ),
        )
    assert store.list_runs() == []


@pytest.mark.slow
async def test_create_and_run_a_tiny_study_then_its_group_table(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await open_create_study_dialog(app, pilot)
        values = {
            "study-name": "tiny",
            "study-trials": "2",
            "study-steps": "1500",
            "study-fixed": "eval_interval=500 eval_episodes=3",
            "study-task-params": "length=4",
            "study-group": "demo",
        }
        for widget_id, value in values.items():
            app.screen.query_one(f"#{widget_id}", Input).value = value
        app.screen.query_one("#study-task", Select).value = "chain"  # one of a2c's tasks
        app.screen.query_one("#study-trials", Input).value = "x"
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert "trials 'x': give a whole number" in str(
            app.screen.query_one("#create-error").render()
        )
        app.screen.query_one("#study-trials", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("u")
        await until(pilot, lambda: "2/2" in app.screen.query_one(DataTable).get_row_at(0)[5], 120)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StudyView))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        assert app.screen.query_one(DataTable).get_row_at(0)[1] == "complete"
        await pilot.press("escape")
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, GroupView))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        row = app.screen.query_one(DataTable).get_row_at(0)
        assert row[0] == "grid" and row[5] == "2"
        await pilot.press("x")
        exported = json.loads((home / "exports" / "group-demo.json").read_text())
        assert exported[0]["method"] == "grid" and exported[0]["lifetimes"] == 2
        await asyncio.sleep(0)


async def test_create_dialog_makes_a_meta_gradient_study_without_search_fields(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await open_create_study_dialog(app, pilot)
        app.screen.query_one("#study-name", Input).value = "online"
        app.screen.query_one("#study-agent", Select).value = "mg-a2c"
        app.screen.query_one("#study-method", Select).value = "meta-gradient"
        await pilot.press("ctrl+s")  # the params field still says discount=0.9:0.999
        await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        assert app.screen.query_one(DataTable).get_row_at(0)[1] == "meta-gradient"


async def test_a_run_deleted_elsewhere_is_said_in_its_view_not_a_crash(home: Path) -> None:
    store = Store(home)
    run_id = completed_run(store, [1.0, 2.0])
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.series)
        Store(home).delete_run(run_id)  # e.g. `workbench runs rm` in another terminal
        await until(pilot, lambda: "no run" in str(app.screen.query_one("#run-message").render()))
        assert app.is_running


async def test_clone_can_start_from_the_runs_networks(home: Path) -> None:
    store = Store(home)
    tiny = {"num_tasks": 8, "eval_tasks": 8, "hidden_size": 16}
    source = store.create_run(
        agent="rl2",
        task="bandit-dependent-easy",
        config=tiny,
        task_params={"pulls": 6},
        seed=0,
        total_steps=200,
    )
    runner.execute(store, source)
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.run)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        app.screen.query_one("#init-from", Checkbox).value = True
        app.screen.query_one("#steps", Input).value = "100"
        field(app.screen, "hidden_size").value = "8"  # does not fit run 1's networks
        await pilot.press("ctrl+s")
        top = app.screen.query_one("#launch-top-error", Static)
        await until(pilot, lambda: "do not fit" in str(top.render()))
        assert [run.id for run in store.list_runs()] == [source]
        field(app.screen, "hidden_size").value = "16"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen))
        clone = store.list_runs()[-1]
        assert clone.id != source and clone.init_from == source
        assert clone.init_path and Path(clone.init_path).exists()
        await until(pilot, lambda: store.get_run(clone.id).status == "completed", 60)


async def test_a_continuous_action_agent_launches_from_the_dialog(home: Path) -> None:
    """sac offers its own form and its one task, and its run trains to completion."""
    store = Store(home)
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        app.screen.query_one("#agent", Select).value = "sac"
        await until(pilot, lambda: app.screen.query_one("#task", Select).value == "pendulum")
        app.screen.query_one("#steps", Input).value = "600"
        for name, value in (("learning_starts", "300"), ("hidden_size", "16")):
            field(app.screen, name).value = value
        field(app.screen, "eval_episodes").value = "1"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen))
        (run,) = store.list_runs()
        assert (run.agent, run.task) == ("sac", "pendulum")
        await until(pilot, lambda: store.get_run(run.id).status == "completed", 60)
        await until(pilot, lambda: cell(app, run.id, "status") == "completed", 10)
