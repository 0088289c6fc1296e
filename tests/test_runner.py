"""The runner's named parts (metric buffer, checkpoint policy, stop polling, heartbeat, the
best checkpoint) one behaviour at a time, and execute on a scripted agent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from agents.common.base import Report
from workbench import runner
from workbench.run_loop import (
    CheckpointPolicy,
    Heartbeat,
    Interval,
    MetricBuffer,
    StopPoll,
    Summary,
)
from workbench.store import Store


def new_run(store: Store, total_steps: int = 100) -> int:
    return store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=total_steps
    )


# --- checkpoint policy -------------------------------------------------------------------
def test_checkpoint_is_due_after_10k_steps_once_5_seconds_passed() -> None:
    policy = CheckpointPolicy(step=0, now=100.0)
    assert not policy.due(9_999, 110.0)
    assert not policy.due(10_000, 104.9)  # fast agent: steps alone are not enough
    assert policy.due(10_000, 105.0)


def test_checkpoint_is_due_every_30_seconds_even_without_10k_steps() -> None:
    policy = CheckpointPolicy(step=0, now=100.0)
    assert not policy.due(10, 129.9)
    assert policy.due(10, 130.0)


def test_a_taken_checkpoint_restarts_both_counts() -> None:
    policy = CheckpointPolicy(step=0, now=0.0)
    policy.taken(10_000, 10.0)
    assert policy.step == 10_000
    assert not policy.due(19_999, 20.0)
    assert policy.due(20_000, 20.0)
    assert not policy.due(10_001, 39.9) and policy.due(10_001, 40.0)


def test_checkpoint_policy_counts_from_the_resumed_step() -> None:
    policy = CheckpointPolicy(step=50_000, now=0.0)
    assert not policy.due(55_000, 10.0)
    assert policy.due(60_000, 10.0)


# --- stop polling and intervals ----------------------------------------------------------
def test_stop_poll_asks_at_most_every_interval_and_remembers_a_yes() -> None:
    answers = iter([False, True])
    asked = []

    def check() -> bool:
        asked.append(True)
        return next(answers)

    poll = StopPoll(check, every=0.25)
    assert not poll.requested(0.0)
    assert not poll.requested(0.1)  # too soon: not asked again
    assert len(asked) == 1
    assert poll.requested(0.3)
    assert poll.requested(0.31) and poll.requested(5.0)  # stays stopping, without asking
    assert len(asked) == 2


def test_interval_fires_once_per_period() -> None:
    interval = Interval(0.5, now=0.0)
    assert not interval.due(0.4)
    assert interval.due(0.5)
    assert not interval.due(0.9)
    interval.restart(1.2)
    assert not interval.due(1.6) and interval.due(1.7)


# --- summary and metric buffer -----------------------------------------------------------
def test_summary_keeps_the_best_evaluation_and_says_when_it_improves() -> None:
    summary = Summary({})
    assert not summary.update(Report(10, {"charts/episode_return": 3.0}))
    assert summary.update(Report(20, {"eval/episode_return": 5.0, "eval/episode_return_std": 1}))
    assert not summary.update(Report(30, {"eval/episode_return": 4.0}))
    assert not summary.update(Report(35, {"eval/episode_return": 5.0}))  # a tie is not better
    assert summary.values["eval_return_mean"] == 5.0 and summary.values["eval_step"] == 35
    assert summary.values["best_eval_return_mean"] == 5.0
    assert summary.values["best_eval_step"] == 20
    assert summary.update(Report(40, {"eval/meta_episode_return": 6.0}))
    assert summary.values["best_eval_step"] == 40


def test_a_resumed_summary_must_beat_the_best_of_earlier_sessions() -> None:
    summary = Summary({"best_eval_return_mean": 9.0, "best_eval_step": 100})
    assert not summary.update(Report(200, {"eval/episode_return": 8.0}))
    assert summary.values["best_eval_step"] == 100


def test_metric_buffer_writes_on_flush_only_and_then_empties(store: Store) -> None:
    run_id = new_run(store)
    buffer = MetricBuffer(store, run_id, Summary({}), step=0)
    buffer.add(Report(5, {"charts/episode_return": 1.0, "train/td_loss": 0.5}))
    buffer.add(Report(9, {"charts/episode_return": 2.0}))
    assert store.metrics(run_id) == []
    assert buffer.step == 9
    buffer.flush()
    assert [(key, step) for key, step, _ in store.metrics(run_id)] == [
        ("charts/episode_return", 5),
        ("train/td_loss", 5),
        ("charts/episode_return", 9),
    ]
    assert buffer.pending == [] and buffer.stored_rows == 3
    run = store.get_run(run_id)
    assert run.steps_done == 9 and run.summary["last_return"] == 2.0
    buffer.flush()  # nothing pending: progress only
    assert buffer.stored_rows == 3


def test_metric_buffer_commits_a_checkpoint_and_a_best_with_its_metrics(store: Store) -> None:
    run_id = new_run(store)
    buffer = MetricBuffer(store, run_id, Summary({}))
    buffer.add(Report(7, {"eval/episode_return": 1.0}))
    buffer.best = ("best.pt", 7)
    buffer.flush(checkpoint=("step.pt", 7))
    run = store.get_run(run_id)
    assert (run.checkpoint_path, run.checkpoint_step) == ("step.pt", 7)
    assert (run.best_checkpoint_path, run.best_checkpoint_step) == ("best.pt", 7)
    assert buffer.best is None  # recorded once


# --- heartbeat ---------------------------------------------------------------------------
def test_heartbeat_beats_inside_its_block_and_stops_after(store: Store, home: Path) -> None:
    run_id = new_run(store)
    assert store.claim(run_id, 1)
    store.sql.execute("UPDATE runs SET heartbeat = 0 WHERE id = :id", {"id": run_id})
    with Heartbeat(home, run_id, interval=0.05) as heartbeat:
        deadline = time.monotonic() + 10
        while store.get_run(run_id).heartbeat == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.get_run(run_id).heartbeat > 0
    assert not heartbeat.is_alive()


# --- execute on a scripted agent ---------------------------------------------------------
class ScriptedAgent:
    """Yields the given evaluation returns, one report each; its weights name the step."""

    def __init__(self, evaluations: list[float]) -> None:
        self.evaluations = evaluations
        self.steps_done = 0

    def learn(self, total_steps: int, tick_seconds: float | None = None) -> Iterator[Report]:
        for index, value in enumerate(self.evaluations):
            self.steps_done = 10 * (index + 1)
            yield Report(self.steps_done, {"eval/episode_return": value})

    def state_dict(self) -> dict[str, Any]:
        return {"step": torch.tensor(self.steps_done)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state["step"])

    def weights(self) -> dict[str, Any]:
        return {"weights_at": torch.tensor(self.steps_done)}


def test_execute_keeps_the_best_evaluation_beside_the_last_checkpoint(
    store: Store, monkeypatch
) -> None:
    monkeypatch.setattr(runner, "build_agent", lambda run: ScriptedAgent([1.0, 7.0, 3.0, 5.0]))
    run_id = new_run(store, total_steps=40)
    run = runner.execute(store, run_id)
    assert run.status == "completed" and run.checkpoint_step == 40
    assert run.summary["best_eval_return_mean"] == 7.0 and run.summary["best_eval_step"] == 20
    assert run.best_checkpoint_step == 20
    best = torch.load(run.best_checkpoint_path, weights_only=True)
    assert int(best["weights_at"]) == 20
    assert int(torch.load(run.checkpoint_path, weights_only=True)["step"]) == 40
    assert Path(run.best_checkpoint_path).name == f"run-{run_id}-best.pt"


def test_a_stop_event_stops_at_the_next_report_with_a_checkpoint(store: Store, monkeypatch):
    monkeypatch.setattr(runner, "build_agent", lambda run: ScriptedAgent([1.0] * 50))
    run_id = new_run(store, total_steps=500)
    stop_event = runner.threading.Event()
    stop_event.set()
    run = runner.execute(store, run_id, stop_event=stop_event)
    assert run.status == "stopped" and run.checkpoint_step == run.steps_done == 10


class BreakingAgent(ScriptedAgent):
    """Two reports, then the given exception from inside learn()."""

    def __init__(self, error: BaseException) -> None:
        super().__init__([1.0, 2.0])
        self.error = error

    def learn(self, total_steps: int, tick_seconds: float | None = None) -> Iterator[Report]:
        yield from super().learn(total_steps, tick_seconds)
        raise self.error


def test_an_agent_error_fails_the_run_and_keeps_its_metrics(store: Store, monkeypatch) -> None:
    agent = BreakingAgent(RuntimeError("diverged"))
    monkeypatch.setattr(runner, "build_agent", lambda run: agent)
    run_id = new_run(store, total_steps=100)
    run = runner.execute(store, run_id)
    assert run.status == "failed" and run.error == "RuntimeError: diverged"
    assert [step for _, step, _ in store.metrics(run_id)] == [10, 20]
    assert run.steps_done == 20 and run.checkpoint_step == 0


def test_a_forced_interrupt_stops_without_a_new_checkpoint(store: Store, monkeypatch) -> None:
    monkeypatch.setattr(runner, "build_agent", lambda run: BreakingAgent(KeyboardInterrupt()))
    run_id = new_run(store, total_steps=100)
    run = runner.execute(store, run_id)
    assert run.status == "stopped" and run.checkpoint_step == 0 and run.steps_done == 20
    assert "resumes from step 0" in store.log_path(run_id).read_text()
