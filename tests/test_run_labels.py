"""Schema 8: tags, notes and renames through the CLI (round trip, filter, bad input,
surviving a resume), each metric row's wall time, and a schema 7 store migrating without
loss."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from workbench.schema import SCHEMA_VERSION
from workbench.store import Store

SCHEMA_7 = Path(__file__).parent / "data" / "store-schema-7.sql"
TINY = ("--steps", "300", "--set", "learning_starts=50", "--set", "eval_interval=150")


def _table(conn: sqlite3.Connection, table: str) -> list[tuple]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()


def test_a_schema_7_store_migrates_without_loss(home: Path) -> None:
    home.mkdir(parents=True)
    old = sqlite3.connect(home / "workbench.db")
    old.executescript(SCHEMA_7.read_text())
    assert old.execute("PRAGMA user_version").fetchone()[0] == 7
    runs_before, metrics_before = _table(old, "runs"), _table(old, "metrics")
    old.close()
    assert len(runs_before) == 4 and len(metrics_before) > 800

    store = Store(home)
    assert store.sql.raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 8
    runs_after, metrics_after = _table(store.sql.raw, "runs"), _table(store.sql.raw, "metrics")
    # Every old column keeps its value; the new ones come after it, empty.
    assert [row[: len(runs_before[0])] for row in runs_after] == runs_before
    assert [row[:4] for row in metrics_after] == metrics_before
    assert all(row[4] is None for row in metrics_after)  # no clock recorded them
    runs = store.list_runs()
    assert [run.tags for run in runs] == [[]] * 4 and all(run.note is None for run in runs)
    assert store.get_run(1).name == "schema-7 [bold]run"
    assert [r.id for r in store.population_runs(2)] == [2, 3]
    assert store.get_run(4).status == "stopped"
    # The migrated store takes the new writes.
    store.retag(4, add=["old"])
    store.write_metrics(4, [("x", 10**9, 1.0)], store.get_run(4).steps_done)
    assert store.timed_metrics(4, "x")[0][2] is not None
    store.close()


def test_tags_notes_and_names_round_trip_and_filter(cli) -> None:
    assert cli("run", "dqn", "cartpole", *TINY).exit_code == 0
    assert cli("run", "dqn", "cartpole", *TINY, "--seed", "1").exit_code == 0
    result = cli("runs", "tag", "1", "baseline", "[bold]")
    assert result.exit_code == 0, result.output
    assert "run 1 tags: [bold] baseline" in result.stdout  # markup printed as it is
    assert cli("runs", "tag", "2", "baseline").exit_code == 0
    assert cli("runs", "untag", "1", "[bold]", "never-had").exit_code == 0
    assert cli("runs", "note", "1", "lr too high?\nsee run 2").exit_code == 0
    assert cli("runs", "rename", "2", "[red]second").exit_code == 0

    first, second = cli.json("runs", "show", "1"), cli.json("runs", "show", "2")
    assert (first["tags"], first["note"]) == (["baseline"], "lr too high?\nsee run 2")
    assert (second["name"], second["tags"], second["note"]) == ("[red]second", ["baseline"], None)
    assert [r["id"] for r in cli.json("runs", "ls", "--tag", "baseline")] == [1, 2]
    assert cli("runs", "untag", "2", "baseline").exit_code == 0
    assert [r["id"] for r in cli.json("runs", "ls", "--tag", "baseline")] == [1]
    listing = cli("runs", "ls", "--tag", "baseline")
    assert "baseline" in listing.stdout and "[red]second" not in listing.stdout
    assert "No runs match" in cli("runs", "ls", "--tag", "nothing").stdout
    shown = cli("runs", "show", "2").stdout
    assert "[red]second" in shown
    assert "note: lr too high?" in cli("runs", "show", "1").stdout
    assert cli("runs", "note", "1", "").exit_code == 0
    assert cli.json("runs", "show", "1")["note"] is None


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["runs", "tag", "1", "two words"], "tag 'two words': one word"),
        (["runs", "tag", "1", "x" * 65], "one word of 1 to 64 characters"),
        (["runs", "rename", "1", "bell\a"], "no control characters"),
        (["runs", "rename", "1", "  "], "a run's name cannot be empty"),
        (["runs", "note", "1", "esc\x1b[31m"], "no control characters"),
        (["runs", "tag", "99", "x"], "99"),
    ],
)
def test_bad_labels_get_one_line_and_exit_2(cli, args: list[str], said: str) -> None:
    assert cli("run", "dqn", "cartpole", *TINY).exit_code == 0
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_labels_survive_a_real_resume_and_wall_times_follow_it(cli, store: Store) -> None:
    """A dqn run stopped at its first report, labelled, resumed and trained to the end in
    this process: the labels stay and every row, old and new, has its wall time."""
    import threading

    from workbench import runner
    from workbench.service import runs as run_service

    settings = run_service.check_settings(
        "dqn", "cartpole", agent_values={"learning_starts": 50, "eval_interval": 150}, steps=300
    )
    run_id = run_service.create_run(store, settings, steps=300)
    stop = threading.Event()
    stop.set()
    stopped = runner.execute(store, run_id, stop_event=stop)
    assert stopped.status == "stopped" and 0 < stopped.checkpoint_step < 300
    assert cli("runs", "tag", str(run_id), "keep").exit_code == 0
    assert cli("runs", "note", str(run_id), "a note").exit_code == 0
    assert cli("runs", "rename", str(run_id), "renamed").exit_code == 0
    store.requeue(run_id)
    done = runner.execute(store, run_id)
    assert done.status == "completed" and done.steps_done == 300
    assert (done.tags, done.note, done.name) == (["keep"], "a note", "renamed")
    rows = store.timed_metrics(run_id)
    assert rows and all(wall is not None for _, _, wall, _ in rows)
    assert all(wall >= done.started_at for _, _, wall, _ in rows)


def test_labels_survive_a_requeue(cli, store: Store) -> None:
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=300
    )
    store.claim(run_id, pid=1)
    store.finish(run_id, "stopped")
    assert cli("runs", "tag", str(run_id), "keep").exit_code == 0
    assert cli("runs", "note", str(run_id), "a note").exit_code == 0
    assert cli("runs", "rename", str(run_id), "renamed").exit_code == 0
    run = store.requeue(run_id)  # what `runs resume` does before its worker trains
    assert (run.tags, run.note, run.name) == (["keep"], "a note", "renamed")


def test_every_metric_row_records_when_it_was_logged(cli, store: Store) -> None:
    before = time.time()
    assert cli("run", "dqn", "cartpole", *TINY).exit_code == 0
    rows = store.timed_metrics(1, "eval/episode_return")
    assert [step for _, step, _, _ in rows] == [150, 300]
    times = [wall for _, _, wall, _ in rows]
    assert before <= times[0] <= times[1] <= time.time()
