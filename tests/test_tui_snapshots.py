"""Snapshots of every screen at 80x24 and 160x48 (pytest-textual-snapshot).

The store is built at a fixed path with fixed runs, metrics and trials, so the pictures
depend on the code alone. After an intended change of a screen:
`.venv/bin/pytest tests/test_tui_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studies.storage import default_url, open_storage
from studies.study import StudySpec, create, load
from studies.worker import take_queued_trial
from workbench.store import Store
from workbench.tui.app import WorkbenchApp

from .test_tui import completed_run

SIZES = [(80, 24), (160, 48)]
HOME = Path("/tmp/workbench-snapshots")


def snapshot_store() -> Store:
    shutil.rmtree(HOME, ignore_errors=True)
    store = Store(HOME)
    completed_run(store, [9.0, 14.0, 30.0, 45.0, 80.0, 120.0, 200.0, 310.0, 500.0])
    completed_run(store, [10.0, 22.0, 25.0, 60.0, 90.0, 160.0, 240.0, 420.0, 480.0])
    storage = open_storage(default_url(HOME))
    spec = StudySpec.from_cli(
        agent="a2c",
        task="cartpole",
        method="grid",
        trials=4,
        steps=50_000,
        params=["discount=0.9:0.99"],
        fixed={},
        task_params={},
        group="demo",
        pruner="none",
        sampler="tpe",
        seed=0,
    )
    create(storage, "cartpole-grid", spec)
    study, _ = load(storage, "cartpole-grid")
    for value in (180.0, 420.0, 500.0):
        trial = take_queued_trial(study)
        discount = trial.suggest_float("discount", 0.9, 0.99)
        trial.set_user_attr("discount", discount)
        trial.set_user_attr("env_steps", 50_000)
        trial.set_user_attr("wall_s", 12.0)
        study.tell(trial, value)
    return store


def app() -> WorkbenchApp:
    return WorkbenchApp(snapshot_store(), refresh_seconds=3600)


async def settle(pilot) -> None:
    await pilot.pause(1.0)


SCREENS = {
    "runs": [],
    "run_view": ["enter"],
    "launch": ["n"],
    "compare": ["space", "space", "v"],
    "studies": ["S"],
    "study": ["S", "_", "_", "enter"],
    "group": ["S", "_", "_", "g"],
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare, screen: str, size: tuple[int, int]) -> None:
    async def before(pilot) -> None:
        await pilot.pause(0.5)
        for key in SCREENS[screen]:
            await pilot.press(key) if key != "_" else await pilot.pause(0.5)
        await settle(pilot)

    assert snap_compare(app(), terminal_size=size, run_before=before)
