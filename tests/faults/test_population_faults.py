"""Faults of a population trained in one background process: `runs stop` of one member
stops it alone with a checkpoint while the others train on; kill -9 of the process leaves
every member `lost` within 30 s; resuming them continues each from its checkpoint with no
metric row twice and none before the checkpoint missing."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.conftest import run_row, wait_for
from tests.faults.helpers import SMALL_DQN
from workbench.records import pid_alive
from workbench.store import Store


def start_population(cli, steps: int, seeds: str = "0-2") -> list[int]:
    result = cli(
        "run", "dqn", "cartpole", "--steps", str(steps), "--seeds", seeds, *SMALL_DQN,
        "--background",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return [int(line) for line in result.stdout.split()]


def rows(home: Path, run_ids: list[int]):
    store = Store(home)
    try:
        return store.get_runs(run_ids)
    finally:
        store.close()


def metric_rows(home: Path, run_id: int) -> list[tuple[str, int, float]]:
    store = Store(home)
    try:
        return store.metrics(run_id)
    finally:
        store.close()


def when_all(home: Path, run_ids: list[int], predicate, timeout: float):
    """The rows of ``run_ids`` once ``predicate`` holds for every one of them."""

    def check():
        runs = rows(home, run_ids)
        return runs if all(predicate(run) for run in runs) else None

    return wait_for(check, timeout=timeout)


def ended(home: Path, run_ids: list[int], timeout: float):
    return when_all(home, run_ids, lambda r: r.status not in ("queued", "running"), timeout)


def no_duplicates(home: Path, run_id: int) -> bool:
    keys = [(key, step) for key, step, _ in metric_rows(home, run_id)]
    return len(keys) == len(set(keys))


def test_stopping_one_member_leaves_the_others_training(
    cli, home: Path, frequent_checkpoints
) -> None:
    ids = start_population(cli, steps=20_000)
    when_all(home, ids, lambda run: run.steps_done > 1000, timeout=120)
    result = cli("runs", "stop", str(ids[1]))
    assert result.exit_code == 0, result.output
    stopped = run_row(home, ids[1])
    assert stopped.status == "stopped"
    assert stopped.checkpoint_step == stopped.steps_done > 0
    assert Path(stopped.checkpoint_path).exists()
    others = [run_row(home, ids[0]), run_row(home, ids[2])]
    assert [run.status for run in others] == ["running", "running"]  # no SIGTERM to them
    when_all(home, [ids[0], ids[2]], lambda r: r.steps_done > stopped.steps_done + 1000, 120)
    assert run_row(home, ids[1]).steps_done == stopped.steps_done  # it does not move
    done = ended(home, ids, timeout=240)
    assert [run.status for run in done] == ["completed", "stopped", "completed"]
    assert [run.steps_done for run in done] == [20_000, stopped.steps_done, 20_000]
    log = cli("runs", "logs", str(ids[0])).stdout
    assert "without the stopped members" in log


def test_kill_9_loses_every_member_and_resume_continues_each_from_its_checkpoint(
    cli, home: Path, frequent_checkpoints
) -> None:
    ids = start_population(cli, steps=12_000)
    running = when_all(home, ids, lambda run: run.checkpoint_step > 0, timeout=120)
    pid = running[0].pid
    assert {run.pid for run in running} == {pid}
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    checkpoints = {run.id: run_row(home, run.id).checkpoint_step for run in running}
    before = {
        run_id: [row for row in metric_rows(home, run_id) if row[1] <= step]
        for run_id, step in checkpoints.items()
    }
    wait_for(lambda: {r["status"] for r in cli.json("runs", "ls")} == {"lost"}, timeout=30)
    assert time.monotonic() - killed_at < 30

    resumed = cli("runs", "resume", "--population", str(ids[0]))
    assert resumed.exit_code == 0, resumed.output
    for run_id, step in checkpoints.items():
        assert f"run {run_id} resumed from step {step} " in resumed.stdout
    queued = rows(home, ids)
    assert len({run.pid for run in queued}) == 1  # one worker for every member
    done = ended(home, ids, timeout=240)
    assert [(run.status, run.steps_done) for run in done] == [("completed", 12_000)] * 3
    for run_id, step in checkpoints.items():
        after = metric_rows(home, run_id)
        assert [row for row in after if row[1] <= step] == before[run_id]
        assert no_duplicates(home, run_id)
        assert max(row[1] for row in after) == 12_000
        log = cli("runs", "logs", str(run_id)).stdout
        assert f"resumed from checkpoint at step {step}" in log


def test_stopping_every_member_ends_the_process(cli, home: Path) -> None:
    ids = start_population(cli, steps=1_000_000)
    running = when_all(home, ids, lambda run: run.steps_done > 0, timeout=120)
    result = cli("runs", "stop", "--population", str(ids[0]))
    assert result.exit_code == 0, result.output
    stopped = rows(home, ids)
    assert [run.status for run in stopped] == ["stopped"] * 3
    assert all(run.checkpoint_step == run.steps_done > 0 for run in stopped)
    assert len({run.steps_done for run in stopped}) == 1  # flagged together: one report
    wait_for(lambda: not pid_alive(running[0].pid), timeout=30)
