"""A running run whose heartbeat is stale but whose process exists (frozen by SIGSTOP) shows
as `stalled N s` in `runs ls`, `runs show` and the TUI; once its process is gone it is
lost, and resumes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_row, wait_for
from workbench.records import STALLED_AFTER
from workbench.store import RESUMABLE, STALE_AFTER, Store
from workbench.tui.screens.runs import run_cells


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    """A live process to own a run, as a frozen worker would."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process
    process.kill()
    process.wait()


def silent_run(home: Path, pid: int, silence: float) -> int:
    store = Store(home)
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=1000
    )
    assert store.claim(run_id, pid)
    store.sql.execute(
        "UPDATE runs SET heartbeat = :at WHERE id = :id",
        {"at": time.time() - silence, "id": run_id},
    )
    store.close()
    return run_id


def test_stalled_is_derived_from_a_running_rows_silence() -> None:
    assert STALLED_AFTER == STALE_AFTER


def test_a_silent_run_with_a_live_process_shows_stalled_with_how_long(
    cli, home: Path, sleeper
) -> None:
    run_id = silent_run(home, sleeper.pid, silence=67)
    stalled = re.compile(r"stalled (6[7-9]|7\d) s")  # 67 s, and the time this test takes
    listed = cli("runs", "ls")
    assert stalled.search(listed.stdout), listed.stdout
    shown = cli("runs", "show", str(run_id)).stdout
    assert stalled.search(shown) and f"kill -CONT {sleeper.pid}" in shown
    (row,) = cli.json("runs", "ls")
    assert row["status"] == "running" and 67 <= row["stalled_seconds"] < 80
    run = run_row(home, run_id)
    assert stalled.fullmatch(run_cells(run, [])[6])  # the TUI's status cell


def test_a_running_run_that_beats_is_not_stalled(cli, home: Path, sleeper) -> None:
    silent_run(home, sleeper.pid, silence=1.0)
    (row,) = cli.json("runs", "ls")
    assert row["status"] == "running" and row["stalled_seconds"] is None
    assert "stalled" not in cli("runs", "ls").stdout


def test_a_stalled_run_whose_process_ends_is_lost_and_resumes(cli, home: Path, sleeper) -> None:
    run_id = silent_run(home, sleeper.pid, silence=30)
    assert run_row(home, run_id).stalled_for() is not None
    sleeper.kill()
    sleeper.wait()
    run = run_row(home, run_id)
    assert run.status == "lost" and run.status in RESUMABLE and run.stalled_for() is None
    store = Store(home)
    assert store.requeue(run_id).status == "queued"
    store.close()


@pytest.mark.slow
def test_a_worker_frozen_by_sigstop_shows_stalled_then_goes_on(cli, home: Path) -> None:
    result = cli("run", "dqn", "cartpole", "--steps", "5000000", "--background")
    run_id = int(result.stdout)
    pid = wait_for(lambda: (r := run_row(home, run_id)).status == "running" and r.pid, 60)
    os.kill(pid, signal.SIGSTOP)
    try:
        row = wait_for(
            lambda: (
                next(r for r in cli.json("runs", "ls") if r["id"] == run_id)["stalled_seconds"]
                and next(r for r in cli.json("runs", "ls") if r["id"] == run_id)
            ),
            timeout=30,
        )
        assert row["status"] == "running"
        assert "stalled 1" in cli("runs", "ls").stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: run_row(home, run_id).stalled_for() is None, timeout=30)
    assert cli("runs", "stop", str(run_id)).exit_code == 0
    assert run_row(home, run_id).status == "stopped"
