"""Workers that pull queued runs from the store (workbench/pull_worker.py, queue_rows.py),
on SQLite and on PostgreSQL (tests/postgres.py): every run claimed once and its metrics
stored once, read live by a third process; a worker killed with SIGKILL loses its runs
once their leases run out, as seen from the other worker, which takes them again from
their checkpoints; bad worker options refused in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for
from workbench.store import Store

pytestmark = pytest.mark.usefixtures("backend")

LEASE = 4.0


def workbench(home: Path, *args: str, **env: str) -> subprocess.Popen:
    """A `workbench` process (a worker's machine, by its home and host id)."""
    environment = dict(os.environ, WORKBENCH_LEASE_SECONDS=str(LEASE), **env)
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )


def queue(cli, steps: int, count: int, *extra: str) -> list[int]:
    ids = []
    for seed in range(count):
        result = cli("run", "dqn", "cartpole", "--steps", str(steps), "--seed", str(seed),
                     "--set", "eval_interval=1000", "--queue", *extra)  # fmt: skip
        assert result.exit_code == 0, result.output
        ids.append(int(result.stdout))
    return ids


def metric_rows(store: Store) -> list[tuple]:
    return store.sql.execute("SELECT run_id, key, step FROM metrics").fetchall()


def test_two_workers_take_every_queued_run_once_and_a_reader_sees_them_train(
    cli, home: Path, tmp_path: Path, backend: str
) -> None:
    ids = queue(cli, 4000, 12)
    # Two machines: with PostgreSQL each worker has a home of its own; the SQLite store
    # is the home's file, which both share.
    homes = [home, home] if backend == "sqlite" else [tmp_path / "a", tmp_path / "b"]
    workers = [
        workbench(homes[i], "worker", "--slots", "2", "--idle-exit", "4", "--host-id", f"box-{i}")
        for i in range(2)
    ]
    store = Store(home)
    seen_live = wait_for(
        lambda: any(run.status == "running" and store.metrics(run.id) for run in store.list_runs()),
        timeout=120,
    )
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert seen_live  # a third process read metrics of runs still training
    runs = store.get_runs(ids)
    assert [run.status for run in runs] == ["completed"] * 12
    claims = [line for out in outputs for line in out.splitlines() if "claimed" in line]
    assert sorted(int(line.split("run ")[1].split()[0]) for line in claims) == ids  # once each
    assert {run.host for run in runs} == {"box-0", "box-1"}  # both took runs
    listing = subprocess.run(
        [sys.executable, "-m", "workbench", "--home", str(home), "runs", "ls"],
        capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"),
    ).stdout  # fmt: skip
    assert "host" in listing.splitlines()[0] and "box-1" in listing
    rows = metric_rows(store)
    assert len(rows) == len(set(rows))  # the primary key holds; nothing logged twice
    store.close()


def test_a_killed_workers_runs_are_lost_within_the_lease_and_resumed_by_another(
    cli, home: Path, tmp_path: Path, backend: str
) -> None:
    ids = queue(cli, 30_000, 2, "--retries", "1")
    # With PostgreSQL the second worker's home is another machine's: it resumes from the
    # store's copies of the checkpoints (workbench/file_rows.py).
    homes = [home, home] if backend == "sqlite" else [tmp_path / "a", tmp_path / "b"]
    often = {"WORKBENCH_CHECKPOINT_STEPS": "2000", "WORKBENCH_CHECKPOINT_MIN_SECONDS": "0"}
    first = workbench(homes[0], "worker", "--slots", "2", "--host-id", "box-a", **often)
    store = Store(home)
    checkpointed = wait_for(
        lambda: all(r.status == "running" and r.checkpoint_step >= 4000
                    for r in store.get_runs(ids)) and store.get_runs(ids),
        timeout=180,
    )  # fmt: skip
    before = {run.id: run.checkpoint_step for run in checkpointed}
    kept = {
        run_id: [row for row in store.metrics(run_id) if row[1] <= before[run_id]] for run_id in ids
    }
    killed = time.monotonic()
    first.send_signal(signal.SIGKILL)
    first.wait()
    first.stdout.close()

    def requeued():  # what any reader sees: listing the runs marks the lost ones
        return all(run.status == "queued" for run in store.list_runs() if run.id in ids)

    wait_for(requeued, timeout=LEASE + 10)  # lost and queued again, as any machine sees it
    assert time.monotonic() - killed <= LEASE + 10
    for run in store.get_runs(ids):
        assert run.retries == 0 and run.queue == "any" and "stopped renewing" in run.error
    second = workbench(homes[1], "worker", "--idle-exit", "3", "--host-id", "box-b", **often)
    output = second.communicate(timeout=600)[0]
    assert second.returncode == 0, output
    for run in store.get_runs(ids):
        assert run.status == "completed" and run.host == "box-b", output
        assert run.steps_done == 30_000
        stored = store.metrics(run.id)
        assert [row for row in stored if row[1] <= before[run.id]] == kept[run.id]
    rows = metric_rows(store)
    assert len(rows) == len(set(rows))
    store.close()


def test_bad_worker_options_are_one_line(cli) -> None:
    for args, words in [
        (("worker", "--slots", "0"), "--slots must be 1 to 256"),
        (("run", "dqn", "cartpole", "--retries", "2"), "add --queue"),
        (("run", "dqn", "cartpole", "--queue", "--seeds", "0-1"), "--queue takes one run"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr
