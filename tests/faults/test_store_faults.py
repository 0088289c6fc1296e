"""The store at the edge of its environment: a foreign SQLite file, a read-only home, a
logs directory it may not write, and files only their owner may read."""

from __future__ import annotations

import sqlite3
import stat
import time
from pathlib import Path

import pytest

from tests.conftest import Cli, run_row
from tests.faults.helpers import SMALL_DQN, one_line, read_only
from workbench import store as store_module
from workbench.store import Store
from workbench.tui.readers.runs import RunReader, read_runs


def test_a_foreign_sqlite_file_is_refused_in_one_line_and_left_as_it_was(
    cli: Cli, home: Path
) -> None:
    home.mkdir()
    foreign = sqlite3.connect(home / "workbench.db")
    foreign.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    foreign.execute("INSERT INTO invoices (amount) VALUES (9.5)")
    foreign.commit()
    foreign.close()
    before = (home / "workbench.db").read_bytes()

    result = cli("runs", "ls")

    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert str(home / "workbench.db") in line and "invoices" in line and "--home" in line
    assert (home / "workbench.db").read_bytes() == before  # journal mode and all unchanged
    conn = sqlite3.connect(home / "workbench.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT amount FROM invoices").fetchall() == [(9.5,)]


def test_a_new_home_and_its_files_are_readable_by_their_owner_only(home: Path) -> None:
    from workbench.runner import execute

    store = Store(home)
    run_id = store.create_run(
        agent="dqn",
        task="cartpole",
        config={"hidden_size": 8, "learning_starts": 50, "eval_interval": 100, "eval_episodes": 1},
        task_params={},
        seed=0,
        total_steps=200,
    )
    execute(store, run_id)
    run = store.get_run(run_id)
    assert run.status == "completed", run.error

    def mode(path: Path | str) -> int:
        return stat.S_IMODE(Path(path).stat().st_mode)

    for directory in (home, home / "checkpoints", home / "logs"):
        assert mode(directory) == 0o700, directory
    owned = [home / "workbench.db", store.log_path(run_id), run.checkpoint_path]
    owned += [run.best_checkpoint_path] + list(home.glob("workbench.db-*"))
    for path in owned:
        assert mode(path) == 0o600, path


def stale_running_run(home: Path) -> int:
    """A run whose worker vanished: running, its heartbeat old, its pid gone."""
    store = Store(home)
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=100
    )
    store.claim(run_id, 2**22 + 12345)  # no such process
    store.sql.execute(
        "UPDATE runs SET heartbeat = :at WHERE id = :id", {"at": time.time() - 60, "id": run_id}
    )
    store.close()
    return run_id


def test_reads_work_on_a_read_only_store(cli: Cli, home: Path, tmp_path: Path) -> None:
    run_id = stale_running_run(home)
    with read_only(home) as mounted:
        if not mounted:
            pytest.skip("this machine does not allow a read-only bind mount")
        listing = cli("runs", "ls")
        shown = cli("runs", "show", str(run_id))
        started = cli("run", "dqn", "cartpole", "--steps", "100")
        tui_rows = read_runs(home, {})  # what the TUI's runs screen and run view read
        tui_run = RunReader(home, run_id).read(None, {})

    assert listing.exit_code == 0 and " running " in listing.output, listing.output
    assert shown.exit_code == 0, shown.output
    assert tui_rows[run_id][1].status == "running" and tui_run.run.id == run_id
    # Writing is an environment failure (exit 1), said in one line naming the home.
    assert started.exit_code == 1, started.output
    assert str(home) in one_line(started.output)
    assert run_row(home, run_id).status == "lost"  # marked by the first reader that can write


def test_a_logs_directory_that_refuses_writes_fails_the_run_in_one_line(
    cli: Cli, home: Path
) -> None:
    """The worker's log cannot be opened: the run is failed (resumable), not queued
    forever with no worker, and the user reads which file and what to do."""
    Store(home).close()
    with read_only(home / "logs") as mounted:
        if not mounted:
            pytest.skip("this machine does not allow a read-only bind mount")
        result = cli("run", "dqn", "cartpole", "--steps", "100", *SMALL_DQN, "--background")

    assert result.exit_code == 1, result.output
    line = one_line(result.output)
    assert str(home / "logs") in line and "runs resume" in line
    (run,) = Store(home).list_runs()
    assert run.status == "failed" and str(home / "logs") in run.error


def test_opening_a_store_that_cannot_be_created_is_an_environment_failure(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    with read_only(parent) as mounted:
        if not mounted:
            pytest.skip("this machine does not allow a read-only bind mount")
        with pytest.raises(store_module.StoreUnusable, match="make it writable or pass --home DIR"):
            Store(parent / "home")
