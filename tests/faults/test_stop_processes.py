"""`runs stop` on every kind of process that trains ends the run `stopped` with a checkpoint
within 10 s: a foreground `workbench run`, a background worker inside a 100,000-step
update, a lifetime `study compare` trains; and Ctrl+C twice says where a resume starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import run_row, wait_for
from workbench.store import Store

STOP_WITHIN = 10.0


def workbench(home: Path, *args: str) -> subprocess.Popen:
    """`workbench ARGS --home HOME` in a process of its own, as a user starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args, "--home", str(home)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def training_run(home: Path, *, trial_none: bool = False) -> int:
    """The id of the first run that is running and has stored some progress."""

    def find() -> int | None:
        store = Store(home)
        try:
            for run in store.list_runs(["running"]):
                if run.steps_done > 0 and (not trial_none or run.trial is None):
                    return run.id
        finally:
            store.close()
        return None

    return wait_for(find, timeout=90)


def stop_and_check(cli, home: Path, run_id: int):
    began = time.monotonic()
    result = cli("runs", "stop", str(run_id), "--wait", str(STOP_WITHIN))
    elapsed = time.monotonic() - began
    assert result.exit_code == 0, result.output
    run = run_row(home, run_id)
    assert run.status == "stopped", (run.status, run.error, elapsed)
    assert elapsed < STOP_WITHIN
    assert run.checkpoint_step == run.steps_done > 0
    assert run.checkpoint_path and Path(run.checkpoint_path).exists()
    return run


def test_runs_stop_checkpoints_a_foreground_run(cli, home: Path) -> None:
    process = workbench(home, "run", "dqn", "cartpole", "--steps", "5000000")
    try:
        run_id = training_run(home)
        run = stop_and_check(cli, home, run_id)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert f"a resume starts from step {run.checkpoint_step}" in out, out


def test_runs_stop_checkpoints_a_background_run_inside_a_long_update(cli, home: Path) -> None:
    # The first training burst (at step 256) is 100,000 gradient steps: minutes of work.
    result = cli(
        "run", "dqn", "cartpole", "--steps", "5000000", "--background",
        "--set", "gradient_steps=100000", "--set", "learning_starts=0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = int(result.stdout)
    wait_for(lambda: run_row(home, run_id).steps_done >= 256, timeout=90)
    time.sleep(1.0)  # well inside the burst
    run = stop_and_check(cli, home, run_id)
    assert run.steps_done == 256
    assert "stopped at step 256 inside an update" in store_log(home, run_id)


def store_log(home: Path, run_id: int) -> str:
    return (home / "logs" / f"run-{run_id}.log").read_text()


def test_runs_stop_checkpoints_a_lifetime_that_study_compare_trains(cli, home: Path) -> None:
    args = ["study", "create", "online", "--agent", "mg-a2c", "--task", "chain"]
    args += ["--method", "meta-gradient", "--trials", "1", "--steps", "5000000"]
    args += ["--task-set", "length=5", "--group", "g"]
    assert cli(*args).exit_code == 0
    process = workbench(home, "study", "compare", "g", "--lifetimes", "2")
    try:
        run_id = training_run(home, trial_none=True)
        stop_and_check(cli, home, run_id)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert "stopped; `workbench study compare g` trains the missing" in err
    # The comparison trained no further lifetime after the stopped one.
    assert len(Store(home).list_runs()) == 1


BLOCKING_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    from agents.common.base import Report
    from workbench import runner

    home = sys.argv[1]
    # Checkpoints every 20 steps (WORKBENCH_CHECKPOINT_STEPS below): at step 20 and not at
    # 30, then an update that never reaches a yield.

    class Blocking:
        steps_done = 0

        def learn(self, total_steps, *, tick_seconds=None):
            for step in (10, 20, 30):
                self.steps_done = step
                yield Report(step, {"train/loss": 1.0})
            Path(home, "blocked").touch()
            while True:
                time.sleep(0.01)

        def state_dict(self):
            return {"step": torch.tensor(self.steps_done)}

        def weights(self):
            return {}

    runner.build_agent = lambda run: Blocking()
    from workbench.cli import main
    sys.argv = ["workbench", "run", "dqn", "cartpole", "--steps", "1000", "--home", home]
    main()
    """
)


def test_ctrl_c_twice_forces_a_stop_and_says_which_checkpoint_a_resume_starts_from(
    home: Path,
) -> None:
    home.mkdir(parents=True)
    process = subprocess.Popen(
        [sys.executable, "-c", BLOCKING_RUN, str(home)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ
        | {
            "COLUMNS": "300",
            "WORKBENCH_CHECKPOINT_STEPS": "20",
            "WORKBENCH_CHECKPOINT_MIN_SECONDS": "0",
        },
    )
    try:
        wait_for(lambda: (home / "blocked").exists(), timeout=60)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)  # the first asks for a stop the blocked update never reaches
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, (out, err)
    assert "Ctrl+C again to force" in err
    line = " ".join(out.split())
    assert "run 1 interrupted at step 30" in line, out
    assert "a resume starts from step 20, its last checkpoint" in line, out
    assert "the 10 steps after it are trained again" in line, out
    run = run_row(home, 1)
    assert (run.status, run.checkpoint_step, run.steps_done) == ("stopped", 20, 30)
