"""The run store: lifecycle transitions, metric uniqueness, resume bookkeeping, lost runs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy

from studies.remembered import remember, remembered
from workbench import schema
from workbench import store as store_module
from workbench.store import Store, StoreError, UnknownRun

BOTH = pytest.mark.usefixtures("backend")
"""A test of the store's contract, run on SQLite and on PostgreSQL (tests/postgres.py);
the others are about the SQLite file itself (its migrations, a foreign file)."""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Checkpoint files of these (relative) names, which a shared store copies."""
    monkeypatch.chdir(tmp_path)
    return lambda *names: [Path(name).write_bytes(b"weights") for name in names]


def new_run(store: Store, **overrides) -> int:
    values = dict(
        agent="dqn",
        task="cartpole",
        config={"discount": 0.9},
        task_params={},
        seed=3,
        total_steps=100,
    )
    values.update(overrides)
    return store.create_run(**values)


@BOTH
def test_created_run_is_queued_with_a_default_name(home: Path) -> None:
    store = Store(home)
    run = store.get_run(new_run(store))
    assert (run.status, run.name, run.config, run.steps_done) == (
        "queued",
        f"dqn-cartpole-{run.id}",
        {"discount": 0.9},
        0,
    )


@BOTH
def test_claim_is_exclusive(home: Path) -> None:
    store = Store(home)
    run_id = new_run(store)
    assert store.claim(run_id, pid=111)
    assert not store.claim(run_id, pid=222)
    assert store.get_run(run_id).pid == 111


@BOTH
def test_a_metric_cannot_be_stored_twice(home: Path) -> None:
    store = Store(home)
    run_id = new_run(store)
    store.write_metrics(run_id, [("charts/episode_return", 5, 1.0)], 5)
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        store.write_metrics(run_id, [("charts/episode_return", 5, 2.0)], 5)
    assert store.metrics(run_id) == [("charts/episode_return", 5, 1.0)]


@BOTH
def test_failed_batch_writes_nothing(home: Path) -> None:
    store = Store(home)
    run_id = new_run(store)
    store.write_metrics(run_id, [("a", 1, 1.0)], 1)
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        store.write_metrics(run_id, [("b", 2, 1.0), ("a", 1, 9.0)], 2)
    assert store.metrics(run_id) == [("a", 1, 1.0)]
    assert store.get_run(run_id).steps_done == 1


@BOTH
def test_requeue_drops_metrics_after_the_checkpoint_only(home: Path, files) -> None:
    files("ck")
    store = Store(home)
    run_id = new_run(store)
    store.claim(run_id, pid=1)
    store.write_metrics(run_id, [("a", 10, 1.0), ("a", 20, 2.0)], 20, checkpoint=("ck", 20))
    store.write_metrics(run_id, [("a", 30, 3.0)], 30)
    store.finish(run_id, "stopped")
    run = store.requeue(run_id)
    assert (run.status, run.steps_done, run.checkpoint_step) == ("queued", 20, 20)
    assert [step for _, step, _ in store.metrics(run_id)] == [10, 20]


@BOTH
def test_only_stopped_failed_or_lost_runs_resume(home: Path) -> None:
    store = Store(home)
    run_id = new_run(store)
    with pytest.raises(StoreError, match="run 1 is queued; only stopped, failed, lost runs resume"):
        store.requeue(run_id)


@BOTH
def test_stopping_a_queued_run_stops_it_at_once(home: Path) -> None:
    store = Store(home)
    run_id = new_run(store)
    assert store.request_stop(run_id).status == "stopped"
    assert not store.claim(run_id, pid=1)


@BOTH
def test_dead_worker_with_stale_heartbeat_becomes_lost(home: Path, monkeypatch) -> None:
    store = Store(home)
    run_id = new_run(store)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.claim(run_id, pid=dead.pid)
    assert store.get_run(run_id).status == "running"  # heartbeat still fresh
    monkeypatch.setattr(store_module, "STALE_AFTER", 0.0)
    time.sleep(0.01)
    assert store.get_run(run_id).status == "lost"


@BOTH
def test_live_worker_with_stale_heartbeat_is_not_lost(home: Path, monkeypatch) -> None:
    import os

    store = Store(home)
    run_id = new_run(store)
    store.claim(run_id, pid=os.getpid())
    monkeypatch.setattr(store_module, "STALE_AFTER", 0.0)
    time.sleep(0.01)
    assert store.get_run(run_id).status == "running"


@BOTH
def test_unknown_run_says_how_to_list(home: Path) -> None:
    with pytest.raises(UnknownRun, match="no run with id 7; `workbench runs ls`"):
        Store(home).get_run(7)


@BOTH
def test_active_run_cannot_be_deleted(home: Path) -> None:
    store = Store(home)
    run_id = new_run(store)
    with pytest.raises(StoreError, match="stop it first"):
        store.delete_run(run_id)


def test_a_file_that_is_not_sqlite_is_refused_untouched(home: Path) -> None:
    home.mkdir()
    db = home / "workbench.db"
    db.write_bytes(b"this is a text file, not a database\n" * 20)
    before = db.read_bytes()
    with pytest.raises(StoreError, match="is not a workbench store"):
        Store(home)
    assert db.read_bytes() == before


def test_newer_schema_is_refused(home: Path) -> None:
    Store(home).db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer workbench"):
        Store(home)


def test_a_schema_2_store_gains_the_init_columns_and_keeps_its_runs(home: Path) -> None:
    store = Store(home)
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=10
    )
    store.db["runs"].transform(drop={"init_from", "init_path"})
    store.db.execute("PRAGMA user_version = 2")
    store.close()
    reopened = Store(home)
    assert {"init_from", "init_path"} <= set(reopened.db["runs"].columns_dict)
    run = reopened.get_run(run_id)
    assert run.agent == "dqn" and run.init_from is None and run.init_path is None
    assert reopened.db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_schema_version_recorded(home: Path) -> None:
    store = Store(home)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_schema_3_store_gains_the_best_checkpoint_columns_and_keeps_its_runs(
    home: Path,
) -> None:
    store = Store(home)
    run_id = new_run(store)
    store.write_metrics(run_id, [("charts/episode_return", 5, 1.0)], 5, checkpoint=("c.pt", 5))
    store.db["runs"].transform(
        drop={"best_checkpoint_path", "best_checkpoint_step", "init_checkpoint"}
    )
    store.db.execute("PRAGMA user_version = 3")
    store.close()
    reopened = Store(home)
    assert {"best_checkpoint_path", "best_checkpoint_step"} <= set(reopened.db["runs"].columns_dict)
    run = reopened.get_run(run_id)
    assert (run.checkpoint_path, run.checkpoint_step) == ("c.pt", 5)
    assert run.best_checkpoint_path is None and run.best_checkpoint_step is None
    assert run.init_checkpoint is None
    assert reopened.metrics(run_id) == [("charts/episode_return", 5, 1.0)]
    assert reopened.db.execute("PRAGMA user_version").fetchone()[0] == (schema.SCHEMA_VERSION)


def test_migrations_are_in_version_order_and_end_at_the_schema_version() -> None:
    versions = [version for version, _ in schema.MIGRATIONS]
    assert versions == sorted(set(versions))
    assert versions[-1] == schema.SCHEMA_VERSION


@BOTH
def test_a_best_checkpoint_is_recorded_with_a_flush_and_deleted_with_the_run(
    home: Path,
) -> None:
    store = Store(home)
    run_id = new_run(store)
    best = home / "checkpoints" / f"run-{run_id}-best.pt"
    best.write_bytes(b"weights")
    store.write_metrics(run_id, [], 40, best=(str(best), 40))
    run = store.get_run(run_id)
    assert (run.best_checkpoint_path, run.best_checkpoint_step) == (str(best), 40)
    store.finish(run_id, "completed")
    store.delete_run(run_id)
    assert not best.exists()


def test_a_schema_3_store_hands_its_remembered_study_storages_to_studies(home: Path) -> None:
    """Schema 5: the run store no longer keeps study storage URLs; studies' own file does."""
    home.mkdir(parents=True)
    dump = (Path(__file__).parent / "data" / "store-schema-3.sql").read_text()
    old = sqlite3.connect(home / "workbench.db")
    old.executescript(dump)
    old.close()
    newer = "postgresql://someone@new-host/other"
    remember(home, "kept", newer)  # chosen after the old store was written: it stays
    store = Store(home)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert not store.db["study_storages"].exists()
    assert remembered(home) == {
        "far": "postgresql://someone@db-host:5432/studies",
        "kept": newer,
    }
    (run,) = store.study_runs("far")
    assert (run.name, run.trial, run.config) == ("far/trial-0", 0, {"discount": 0.9})
    assert store.metrics(run.id) == [("eval/episode_return", 50, 0.2)]
    store.close()
    Store(home).close()  # opened again: nothing left to move, nothing changes
    assert remembered(home)["far"] == "postgresql://someone@db-host:5432/studies"


def test_a_schema_5_store_gains_the_checkpoint_hash_columns_and_keeps_its_runs(
    home: Path,
) -> None:
    """Schema 6: the last checkpoint's hash and the previous checkpoint; an older run has
    none of them and resumes from its last checkpoint as before."""
    store = Store(home)
    run_id = new_run(store)
    store.write_metrics(run_id, [("train/td_loss", 5, 1.0)], 5, checkpoint=("c.pt", 5))
    columns = {
        "checkpoint_sha256",
        "previous_checkpoint_path",
        "previous_checkpoint_step",
        "previous_checkpoint_sha256",
    }
    store.db["runs"].transform(drop=columns)
    store.db.execute("PRAGMA user_version = 5")
    store.close()
    reopened = Store(home)
    assert columns <= set(reopened.db["runs"].columns_dict)
    run = reopened.get_run(run_id)
    assert (run.checkpoint_path, run.checkpoint_step, run.checkpoint_sha256) == ("c.pt", 5, None)
    assert run.previous_checkpoint_path is None
    assert reopened.metrics(run_id) == [("train/td_loss", 5, 1.0)]
    version = reopened.db.execute("PRAGMA user_version").fetchone()[0]
    assert version == schema.SCHEMA_VERSION >= 6


@BOTH
def test_a_new_checkpoint_keeps_the_one_before_as_the_previous(home: Path, files) -> None:
    files("a.pt", "b.pt")
    store = Store(home)
    run_id = new_run(store)
    store.write_metrics(run_id, [], 10, checkpoint=("a.pt", 10, "hash-a"))
    store.write_metrics(run_id, [], 20, checkpoint=("b.pt", 20, "hash-b"))
    run = store.get_run(run_id)
    assert (run.checkpoint_path, run.checkpoint_step) == ("b.pt", 20)
    assert run.checkpoint_sha256 == "hash-b"
    assert (
        run.previous_checkpoint_path,
        run.previous_checkpoint_step,
        run.previous_checkpoint_sha256,
    ) == ("a.pt", 10, "hash-a")
    store.write_metrics(run_id, [], 20, checkpoint=("b.pt", 20, "hash-b2"))  # same file again
    run = store.get_run(run_id)
    assert (run.previous_checkpoint_path, run.checkpoint_sha256) == ("a.pt", "hash-b2")


def test_a_postgresql_store_is_built_in_its_own_schema_and_refused_when_newer(
    home: Path, postgres_url: str
) -> None:
    store = Store(home, url=postgres_url)
    new_run(store)
    tables = store.sql.rows(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    assert {(row["table_schema"], row["table_name"]) for row in tables} == {
        ("workbench", "runs"),
        ("workbench", "metrics"),
        ("workbench", "meta"),
        ("workbench", "files"),
    }  # apart from Optuna's tables (public) in the same database
    store.sql.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    store.close()
    with pytest.raises(StoreError, match="newer workbench .schema 99"):
        Store(home, url=postgres_url)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (
            "postgresql://someone:s3cret@127.0.0.1:1/db",
            "cannot reach the store postgresql://someone:***@",
        ),
        ("mysql://someone:s3cret@host/db", "a mysql URL; a shared store is PostgreSQL"),
        ("no url at all", "is not a database URL"),
    ],
)
def test_a_store_url_that_cannot_be_used_is_one_line_and_writes_nothing(
    cli, home: Path, url: str, words: str
) -> None:
    result = cli("--store", url, "runs", "ls")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "s3cret" not in result.output and "Traceback" not in result.output
    assert not home.exists()


def test_a_shared_stores_checkpoints_are_read_on_another_machine_and_checked(
    tmp_path: Path, postgres_url: str
) -> None:
    import torch

    from workbench import checkpoints

    here, there = Store(tmp_path / "a", url=postgres_url), Store(tmp_path / "b", url=postgres_url)
    run_id = new_run(here)
    paths = []
    for step in (10, 20, 30):
        path, sha256 = checkpoints.save_state(here, run_id, {"w": torch.full((3,), step)}, step)
        here.write_metrics(run_id, [("a", step, 1.0)], step, checkpoint=(str(path), step, sha256))
        checkpoints.remove_old_checkpoints(
            here, run_id, keep={str(path), here.get_run(run_id).previous_checkpoint_path}
        )
        paths.append(path)
    for path in (tmp_path / "a" / "checkpoints").iterdir():
        path.unlink()  # the other machine's disk: only the store's copies reach it
    run = there.get_run(run_id)
    fetched = there.local_file(run.checkpoint_path)
    assert fetched.parent == tmp_path / "b" / "checkpoints" and fetched.name == paths[-1].name
    assert torch.equal(checkpoints.read_checkpoint(there, run)["w"], torch.full((3,), 30))
    names = {row[0] for row in there.sql.execute("SELECT name FROM files")}
    assert names == {paths[1].name, paths[2].name}  # the last and the previous, as on disk
    fetched.unlink()
    there.sql.execute("UPDATE files SET data = :junk", {"junk": b"not a checkpoint"})
    assert not there.local_file(run.checkpoint_path).exists()  # a damaged copy is no copy
    here.sql.execute("UPDATE runs SET status = 'stopped'")
    here.delete_run(run_id)
    assert there.sql.scalar("SELECT COUNT(*) FROM files") == 0


def test_a_store_opened_while_another_process_creates_it_waits_for_it(home: Path) -> None:
    """Two processes opening a new home at once (a CLI and the TUI, a test's poller): the
    second waits for the first's write lock before turning the file to WAL, which SQLite
    does not wait for by itself ("database is locked" at once)."""
    import threading

    home.mkdir()
    first = sqlite3.connect(home / "workbench.db", isolation_level=None, check_same_thread=False)
    first.execute("BEGIN IMMEDIATE")
    first.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
    first.execute("CREATE TABLE metrics (run_id INTEGER)")
    threading.Timer(0.5, lambda: first.execute("ROLLBACK")).start()
    started = time.monotonic()
    store = Store(home)
    assert time.monotonic() - started >= 0.4
    assert store.sql.scalar("PRAGMA journal_mode") == "wal"
    assert new_run(store) == 1
    store.close()
    first.close()
