"""A damaged checkpoint (truncated, corrupt) costs at most the steps since the previous
one: resume falls back to it and says so in one line; eval and --init-from say which file
is damaged and what to do, in one line, exit 2; half-written files do not pile up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.conftest import Cli, run_row, wait_for
from tests.faults.helpers import SMALL_DQN, one_line
from workbench.service import runs as service
from workbench.store import Store

pytestmark = pytest.mark.usefixtures("frequent_checkpoints")

TOTAL = 3000


def stopped_run(home: Path, stop_at: int = 1700) -> int:
    """A DQN run stopped at ``stop_at``, so it holds checkpoints at 1500 (previous) and at
    the step it stopped (last)."""
    store = Store(home)
    settings = service.check_settings(
        "dqn", "cartpole", agent_values=dict(item.split("=") for item in SMALL_DQN[1::2])
    )
    run_id = service.create_run(store, settings, steps=TOTAL, seed=3)
    stop = threading.Event()

    def on_progress(progress) -> None:
        if progress.step >= stop_at:
            stop.set()

    run = service.train_foreground(store, run_id, on_progress=on_progress, stop_event=stop)
    store.close()
    assert run.status == "stopped" and run.checkpoint_step >= stop_at
    return run_id


def truncate(path: str) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])


def test_a_truncated_last_checkpoint_resumes_from_the_previous_one(cli: Cli, home: Path) -> None:
    run_id = stopped_run(home)
    before = run_row(home, run_id)
    previous = (before.checkpoint_step - 1) // 500 * 500  # the periodic one before the stop
    assert before.previous_checkpoint_step == previous >= 1500  # kept until the next one
    truncate(before.checkpoint_path)

    result = cli("runs", "resume", str(run_id))

    assert result.exit_code == 0, result.output
    line = one_line(result.output)
    assert before.checkpoint_path in line and f"previous one at step {previous}" in line
    run = wait_for(
        lambda: (r := run_row(home, run_id)).status not in ("queued", "running") and r, 120
    )
    assert run.status == "completed", run.error
    store = Store(home)
    eval_steps = [step for key, step, _ in store.metrics(run_id, "eval/episode_return")]
    assert eval_steps == list(range(500, TOTAL + 1, 500))  # each once: none lost or twice
    files = {p.name for p in (home / "checkpoints").iterdir()}
    kept = {run.checkpoint_path, run.previous_checkpoint_path, run.best_checkpoint_path}
    assert files == {Path(p).name for p in kept if p}


def test_a_damaged_checkpoint_with_no_earlier_one_starts_again(home: Path) -> None:
    store = Store(home)
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=1000
    )
    path = home / "checkpoints" / f"run-{run_id}-step-300.pt"
    path.write_bytes(b"written whole")
    rows = [("train/td_loss", 100, 1.0), ("train/td_loss", 300, 1.0)]
    store.write_metrics(run_id, rows, 300, checkpoint=(str(path), 300, "not its hash"))
    store.finish(run_id, "stopped")

    requeued = store.requeue(run_id)

    assert requeued.notice == (
        f"run {run_id}: its checkpoint at step 300 ({path}) is damaged and no earlier one "
        "is kept; starting again from step 0"
    )
    assert (requeued.checkpoint_path, requeued.checkpoint_step) == (None, 0)
    assert store.metrics(run_id) == [] and not path.exists()


def test_eval_of_a_damaged_checkpoint_is_one_line_naming_the_file(cli: Cli, home: Path) -> None:
    run_id = stopped_run(home)
    path = run_row(home, run_id).checkpoint_path
    Path(path).write_bytes(b"\x00garbage" * 100)  # corrupt, not only short

    result = cli("eval", str(run_id), "--split", "train")  # a single-task run: a split

    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert path in line and "--checkpoint best" in line and "Traceback" not in result.output


def test_init_from_a_damaged_checkpoint_is_one_line_naming_the_file(cli: Cli, home: Path) -> None:
    run_id = stopped_run(home)
    path = run_row(home, run_id).checkpoint_path
    truncate(path)

    result = cli("run", "dqn", "cartpole", "--steps", "100", *SMALL_DQN, "--init-from", str(run_id))

    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert path in line and "damaged" in line and "--init-checkpoint best" in line
    assert [run.id for run in Store(home).list_runs()] == [run_id]  # no run was created


def test_a_worker_given_a_damaged_checkpoint_fails_in_one_line_that_says_resume(
    home: Path,
) -> None:
    """A checkpoint saved before hashes were kept (no hash to check at resume) that does
    not load: the run fails with the file and the fix, not torch's advice."""
    run_id = stopped_run(home)
    store = Store(home)
    path = run_row(home, run_id).checkpoint_path
    store.sql.execute("UPDATE runs SET checkpoint_sha256 = NULL WHERE id = :id", {"id": run_id})
    truncate(path)
    store.requeue(run_id)

    run = service.train_foreground(store, run_id)

    assert run.status == "failed"
    assert path in run.error and f"workbench runs resume {run_id}" in run.error
    assert "weights_only" not in run.error and "\n" not in run.error


def test_half_written_checkpoints_are_removed_when_the_run_starts(home: Path) -> None:
    run_id = stopped_run(home)
    leftovers = [
        home / "checkpoints" / f"run-{run_id}-step-1800.partial",
        home / "checkpoints" / f"run-{run_id}-best.partial",
    ]
    for path in leftovers:
        path.write_bytes(b"half")
    store = Store(home)
    store.requeue(run_id)

    assert service.train_foreground(store, run_id).status == "completed"

    assert not any(path.exists() for path in leftovers)
