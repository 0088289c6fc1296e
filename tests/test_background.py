"""Background workers: they progress, stop with a checkpoint, resume, survive kill -9."""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import run_row, wait_for
from workbench.store import Store


def start(cli, steps: int, seed: int = 0) -> int:
    result = cli(
        "run", "dqn", "cartpole", "--steps", str(steps), "--seed", str(seed), "--background"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().isdigit(), result.stdout  # the id alone
    return int(result.stdout)


def status_in_ls(cli, run_id: int) -> dict:
    (row,) = [r for r in cli.json("runs", "ls") if r["id"] == run_id]
    return row


def metrics_up_to(home: Path, run_id: int, step: int) -> list[tuple]:
    store = Store(home)
    try:
        return [row for row in store.metrics(run_id) if row[1] <= step]
    finally:
        store.close()


def test_stop_within_5s_then_resume_to_full_budget(cli, home: Path) -> None:
    run_id = start(cli, steps=30_000)
    first = wait_for(
        lambda: status_in_ls(cli, run_id)["steps_done"] > 0 and status_in_ls(cli, run_id),
        timeout=60,
    )
    assert first["status"] == "running"
    later = wait_for(
        lambda: (r := status_in_ls(cli, run_id))["steps_done"] > first["steps_done"] and r,
        timeout=30,
    )
    assert later["status"] == "running"

    began = time.monotonic()
    result = cli("runs", "stop", str(run_id))
    elapsed = time.monotonic() - began
    assert result.exit_code == 0, result.output
    stopped = run_row(home, run_id)
    assert stopped.status == "stopped" and elapsed < 5.0
    assert stopped.checkpoint_step == stopped.steps_done > 0
    assert Path(stopped.checkpoint_path).exists()
    before = metrics_up_to(home, run_id, stopped.checkpoint_step)

    assert cli("runs", "resume", str(run_id)).exit_code == 0
    done = wait_for(
        lambda: (r := run_row(home, run_id)).status not in ("queued", "running") and r, timeout=180
    )
    assert (done.status, done.steps_done) == ("completed", 30_000)
    assert metrics_up_to(home, run_id, stopped.checkpoint_step) == before

    rows = list(csv.DictReader(io.StringIO(cli("runs", "export", str(run_id), "--wide").stdout)))
    steps = [int(row["step"]) for row in rows]
    assert len(steps) == len(set(steps)) and steps == sorted(steps)
    assert steps[-1] == 30_000 and rows[-1]["eval/episode_return"]
    assert "resumed from checkpoint at step" in cli("runs", "logs", str(run_id)).stdout


def test_kill_9_marks_lost_and_resume_keeps_every_checkpointed_metric(cli, home: Path) -> None:
    run_id = start(cli, steps=40_000, seed=1)
    running = wait_for(lambda: (r := run_row(home, run_id)).checkpoint_step > 0 and r, timeout=90)
    os.kill(running.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    checkpoint = run_row(home, run_id).checkpoint_step
    before = metrics_up_to(home, run_id, checkpoint)
    assert before

    wait_for(lambda: status_in_ls(cli, run_id)["status"] == "lost", timeout=30)
    assert time.monotonic() - killed_at < 30

    assert cli("runs", "resume", str(run_id)).exit_code == 0
    done = wait_for(
        lambda: (r := run_row(home, run_id)).status not in ("queued", "running") and r, timeout=180
    )
    assert (done.status, done.steps_done) == ("completed", 40_000)
    assert metrics_up_to(home, run_id, checkpoint) == before
    store = Store(home)
    duplicates = store.db.execute(
        "SELECT key, step, COUNT(*) FROM metrics WHERE run_id = ? GROUP BY key, step "
        "HAVING COUNT(*) > 1",
        [run_id],
    ).fetchall()
    assert duplicates == []
    resumed_steps = [step for _, step, _ in store.metrics(run_id) if step > checkpoint]
    assert resumed_steps and max(resumed_steps) == 40_000


@pytest.mark.slow
def test_four_workers_and_a_polling_reader_lose_nothing(cli, home: Path) -> None:
    run_ids = [start(cli, steps=2_000_000, seed=seed) for seed in range(4)]
    reader = Store(home)
    polls = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for run in reader.list_runs():
            reader.recent_values(run.id, "charts/episode_return", 16)
            reader.metrics(run.id, "charts/episode_return", since_step=run.steps_done - 2000)
        polls += 1
        time.sleep(0.2)
    assert polls > 200
    for run_id in run_ids:
        assert cli("runs", "stop", str(run_id), "--wait", "20").exit_code == 0
    for run_id in run_ids:
        run = run_row(home, run_id)
        assert run.status == "stopped", (run.status, run.error)
        log = cli("runs", "logs", str(run_id)).stdout
        assert "locked" not in log
        (line,) = [x for x in log.splitlines() if "metric rows in this session" in x]
        logged = int(line.split("stored ")[1].split()[0])
        stored = reader.db.execute(
            "SELECT COUNT(*) FROM metrics WHERE run_id = ?", [run_id]
        ).fetchone()[0]
        assert logged == stored > 0
