"""Chaos: a background run killed with SIGKILL ten times at random moments (inside
checkpoint writes, metric flushes, evaluations, anything), each time resumed with `runs
resume`, ends with exactly the (key, step) rows of `train/` and `eval/` metrics of an
uninterrupted run of the same seed, none twice, and nothing in `checkpoints/` but the
run's final files."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import Cli, run_row, wait_for
from tests.faults.helpers import SMALL_DQN
from workbench import store as store_module
from workbench.service import runs as service
from workbench.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("frequent_checkpoints")]

TOTAL = 8000
KILLS = 10
SEED = 11


def keyed_rows(home: Path, run_id: int) -> list[tuple[str, int]]:
    store = Store(home)
    try:
        rows = store.metrics(run_id)
    finally:
        store.close()
    return [(key, step) for key, step, _ in rows if key.startswith(("train/", "eval/"))]


def uninterrupted_rows(home: Path) -> list[tuple[str, int]]:
    store = Store(home)
    settings = service.check_settings(
        "dqn", "cartpole", agent_values=dict(item.split("=") for item in SMALL_DQN[1::2])
    )
    run_id = service.create_run(store, settings, steps=TOTAL, seed=SEED)
    assert service.train_foreground(store, run_id).status == "completed"
    store.close()
    return keyed_rows(home, run_id)


def test_ten_kills_and_resumes_lose_and_repeat_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A killed worker's pid is gone at once (the launcher reaps it): no need to wait the
    # 10 s a silent heartbeat takes to count as lost.
    monkeypatch.setattr(store_module, "STALE_AFTER", 0.0)
    home = tmp_path / "chaos"
    cli = Cli(home)
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    targets = sorted(rng.sample(range(600, TOTAL - 1500), KILLS))

    started = cli(
        "run",
        "dqn",
        "cartpole",
        "--steps",
        str(TOTAL),
        "--seed",
        str(SEED),
        *SMALL_DQN,
        "--background",
    )
    assert started.exit_code == 0, started.output
    run_id = int(started.stdout.strip())
    kills = 0
    for kill, target in enumerate(targets):
        run = wait_for(
            lambda target=target: (
                (r := run_row(home, run_id)).status == "running" and r.steps_done >= target and r
            ),
            120,
            interval=0.05,
        )
        # anywhere: a flush, a checkpoint, an update. This run trains about 5,000 steps/s,
        # so a resume close to the end may finish before the kill lands: then it is over.
        time.sleep(rng.uniform(0.0, 0.1))
        with contextlib.suppress(ProcessLookupError):
            os.kill(run.pid, signal.SIGKILL)
        ended = wait_for(
            lambda: (r := run_row(home, run_id)).status in ("lost", "completed") and r,
            30,
            interval=0.05,
        )
        if ended.status == "completed":
            break
        kills += 1
        resumed = cli("runs", "resume", str(run_id))
        assert resumed.exit_code == 0, f"kill {kill} (random seed {seed}): {resumed.output}"
    assert kills >= KILLS // 2, f"only {kills} kills landed (random seed {seed})"

    run = wait_for(
        lambda: (r := run_row(home, run_id)).status not in ("queued", "running") and r, 180
    )
    assert run.status == "completed", f"{run.error} (random seed {seed})"
    rows = keyed_rows(home, run_id)
    assert len(rows) == len(set(rows))
    assert set(rows) == set(uninterrupted_rows(tmp_path / "reference")), f"random seed {seed}"
    files = {path.name for path in (home / "checkpoints").iterdir()}
    final = {run.checkpoint_path, run.previous_checkpoint_path, run.best_checkpoint_path}
    assert files == {Path(path).name for path in final if path}, f"random seed {seed}"
