"""Snapshots of every screen at 80x24 and 160x48 (pytest-textual-snapshot).

The store holds fixed runs, metrics and trials, and the header shows a fixed name instead
of the store's (temporary) path, so the pictures depend on the code alone. After an
intended change of a screen: `.venv/bin/pytest tests/test_tui_snapshots.py
--snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.storage import open_storage, sqlite_url
from studies.study import StudySpec, create, load
from studies.worker import take_queued_trial
from workbench.store import Store
from workbench.tui.app import WorkbenchApp

from .test_tui import completed_run, until
from .test_tui_groups import POP_A, POP_B, member, population

SIZES = [(80, 24), (160, 48)]


def cartpole_grid_spec(group: str | None = None) -> StudySpec:
    """A 4-point grid over a2c's discount on cartpole (its trials are never trained)."""
    return StudySpec.from_cli(
        agent="a2c",
        task="cartpole",
        method="grid",
        trials=4,
        steps=50_000,
        params=["discount=0.9:0.99"],
        fixed={},
        task_params={},
        group=group,
        pruner="none",
        sampler="tpe",
        seed=0,
    )


def snapshot_store(home: Path) -> Store:
    store = Store(home)
    completed_run(store, [9.0, 14.0, 30.0, 45.0, 80.0, 120.0, 200.0, 310.0, 500.0])
    completed_run(store, [10.0, 22.0, 25.0, 60.0, 90.0, 160.0, 240.0, 420.0, 480.0])
    storage = open_storage(sqlite_url(store.path))
    create(storage, "cartpole-grid", cartpole_grid_spec(group="demo"))
    study, _ = load(storage, "cartpole-grid")
    for value in (180.0, 420.0, 500.0):
        trial = take_queued_trial(study)
        discount = trial.suggest_float("discount", 0.9, 0.99)
        trial.set_user_attr("discount", discount)
        trial.set_user_attr("env_steps", 50_000)
        trial.set_user_attr("wall_s", 12.0)
        study.tell(trial, value)
    return store


def app(home: Path) -> WorkbenchApp:
    tui = WorkbenchApp(snapshot_store(home), refresh_seconds=3600)
    tui.sub_title = "snapshot store"
    return tui


async def settle(pilot) -> None:
    """Until the screens' reads (worker threads) are done and drawn, however busy the
    machine: a fixed pause made snapshots flaky under load."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)
    # A DataTable sizes its columns when idle; under load a snapshot once caught the
    # studies table's header drawn before that (private flag: Textual has no public one).
    await until(pilot, lambda: not any(t._require_update_dimensions for t in tables(pilot.app)))
    await pilot.pause(0.2)


def tables(app) -> list:
    return list(app.screen.query("DataTable"))


def rows(app) -> int:
    tables = app.screen.query("DataTable")
    return tables.first().row_count if tables else 0


# Keys that reach each screen, and when its data is on it.
SCREENS = {
    "runs": ([], lambda app: rows(app) == 2),
    "run_view": (["enter"], lambda app: getattr(app.screen, "series", None)),
    "launch": (["n"], lambda app: app.screen.query("#agent-form")),
    "compare": (["space", "space", "v"], lambda app: len(getattr(app.screen, "series", {})) == 2),
    "studies": (["S"], lambda app: rows(app) == 1),
    "study": (["S", "_", "enter"], lambda app: rows(app) == 4),
    "group": (["S", "_", "g"], lambda app: rows(app) == 1),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare, screen: str, size: tuple[int, int], home: Path) -> None:
    keys, ready = SCREENS[screen]

    async def before(pilot) -> None:
        await until(pilot, lambda: rows(pilot.app) == 2)  # the runs table has loaded
        for key in keys:
            if key == "_":
                await until(pilot, lambda: rows(pilot.app) == 1)  # the studies list
            else:
                await pilot.press(key)
        await until(pilot, lambda: ready(pilot.app))
        await settle(pilot)

    assert snap_compare(app(home), terminal_size=size, run_before=before)


def groups_app(home: Path) -> WorkbenchApp:
    """Two populations of five members (the first with two still running), a study of
    three lifetimes and two lone runs (``test_tui_groups``'s store)."""
    store = Store(home)
    population(store, POP_A, running=2)
    population(store, POP_B, running=0)
    for trial, scale in enumerate([60.0, 90.0, 30.0]):
        member(store, scale, trial != 2, 500.0, study="grid", trial=trial)
    completed_run(store, [1.0, 2.0])
    completed_run(store, [3.0, 4.0])
    tui = WorkbenchApp(store, refresh_seconds=3600)
    tui.sub_title = "snapshot store"
    return tui


GROUP_SCREENS = {
    # the first population expanded under its row, the other groups collapsed
    "groups": (["e"], lambda app: rows(app) == 10),
    # the second population's members as one median curve with its band
    "group_curve": (
        ["down", "enter"],
        lambda app: len(getattr(app.screen, "series", {})) == 5,
    ),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(GROUP_SCREENS))
def test_group_snapshot(snap_compare, screen: str, size: tuple[int, int], home: Path) -> None:
    keys, ready = GROUP_SCREENS[screen]

    async def before(pilot) -> None:
        await until(pilot, lambda: rows(pilot.app) == 5)  # three groups, two lone runs
        for key in keys:
            await pilot.press(key)
        await until(pilot, lambda: ready(pilot.app))
        await settle(pilot)

    assert snap_compare(groups_app(home), terminal_size=size, run_before=before)
