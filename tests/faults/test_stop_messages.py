"""What a stopped foreground run says: how it stopped and exactly where a resume starts."""

from __future__ import annotations

import pytest

from workbench.cli import stopped_line
from workbench.records import RunRecord
from workbench.stopping import StopSignals


def record(steps_done: int, checkpoint_step: int) -> RunRecord:
    return RunRecord(
        id=4, name="r", agent="dqn", task="cartpole", config={}, task_params={}, seed=0,
        total_steps=1000, steps_done=steps_done, status="stopped", pid=None, host=None,
        heartbeat=None, created_at=0.0, started_at=None, ended_at=None, error=None,
        checkpoint_path=None, checkpoint_step=checkpoint_step, stop_requested=True,
        study=None, trial=None,
    )  # fmt: skip


def signals(interrupted: int = 0, terminated: bool = False) -> StopSignals:
    result = StopSignals()
    result.interrupted, result.terminated = interrupted, terminated
    return result


@pytest.mark.parametrize(
    ("steps", "checkpoint", "interrupted", "expected"),
    [
        (300, 300, 1, "run 4 interrupted at step 300; a resume starts from step 300, its "
                      "checkpoint"),
        (300, 200, 2, "run 4 interrupted at step 300; forced; a resume starts from step 200, its "
                      "last checkpoint (the 100 steps after it are trained again)"),
        (300, 0, 2, "run 4 interrupted at step 300; forced; a resume starts from the beginning "
                    "(no checkpoint yet)"),
        (300, 300, 0, "run 4 stopped (runs stop or SIGTERM) at step 300; a resume starts from "
                      "step 300, its checkpoint"),
    ],
)  # fmt: skip
def test_the_line_names_the_step_a_resume_starts_from(steps, checkpoint, interrupted, expected):
    line = stopped_line(record(steps, checkpoint), signals(interrupted))
    assert line == f"{expected}: workbench runs resume 4"


def test_exit_codes_follow_the_shell() -> None:
    assert signals(interrupted=1).exit_code == 130
    assert signals(interrupted=2, terminated=True).exit_code == 130
    assert signals(terminated=True).exit_code == 143
    assert signals().exit_code == 0
