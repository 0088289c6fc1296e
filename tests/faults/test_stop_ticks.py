"""Stops inside long updates: every agent's learn loop ticks inside its inner update loops
without changing a number it reports, the runner stops at a tick with a checkpoint and
writes nothing for ticks, and the Config fields that drive inner loops are bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from agents.common.base import Report
from agents.common.cadence import Ticks
from agents.registry import AGENTS
from envs.config import ConfigError
from envs.registry import get_task
from workbench import runner
from workbench.store import Store

Q_LEARNING = {
    "learning_starts": 64,
    "train_frequency": 64,
    "gradient_steps": 4,
    "batch_size": 16,
    "eval_interval": 200,
    "eval_episodes": 1,
}
SMALL = {
    "dqn": ("cartpole", Q_LEARNING),
    "meta-dqn": ("cartpole", Q_LEARNING | {"meta_interval": 2}),
    "a2c": ("cartpole", {"eval_interval": 200, "eval_episodes": 1}),
    "mg-a2c": ("cartpole", {"eval_interval": 200, "eval_episodes": 1}),
    "ppo": (
        "cartpole",
        {
            "num_envs": 2,
            "rollout_steps": 32,
            "minibatch_size": 16,
            "eval_episodes": 1,
            "eval_interval": 10**6,
        },
    ),
    "sf-gpi": ("scavenger", Q_LEARNING | {"pretrain_steps": 150, "task_weights": "regressed"}),
    "rl2": ("bandit", {"num_tasks": 8, "eval_tasks": 4, "eval_interval": 10**6}),
    "snail": ("bandit", {"num_tasks": 8, "eval_tasks": 4, "eval_interval": 10**6}),
    "l2rl": ("bandit", {"num_tasks": 8, "eval_tasks": 4, "eval_interval": 10**6, "n_steps": 2}),
    "varibad": (
        "bandit",
        {"num_tasks": 8, "minibatches": 2, "eval_tasks": 4, "eval_interval": 10**6},
    ),
    **{
        agent: (
            "pendulum",
            {"learning_starts": 50, "batch_size": 16, "hidden_size": 16, "eval_episodes": 1},
        )
        for agent in ("sac", "ddpg")
    },
    **{
        learner: ("digits-permuted", {"hidden_size": 16, "glances": 1})
        for learner in ("online-sgd", "er", "c-maml", "sync", "la-maml")
    },
}
STEPS = {"dqn": 300, "meta-dqn": 300, "a2c": 300, "mg-a2c": 300, "ppo": 200}
"""Env steps per agent (meta-RL agents: 200, two updates and more of 8 bandit tasks)."""


def make(agent: str):
    task, values = SMALL[agent]
    spec, family = AGENTS[agent], get_task(task)
    params = family.Params(pulls=6) if task == "bandit" else family.Params()
    return spec.make(spec.config(**values), family, params, 5)


def test_every_registered_agent_is_covered() -> None:
    assert set(SMALL) == set(AGENTS)


@pytest.mark.parametrize("agent", sorted(SMALL))
def test_ticks_change_no_reported_number(agent: str) -> None:
    steps = STEPS.get(agent, 200)
    plain = list(make(agent).learn(steps))
    # tick_seconds=0: a tick wherever one may fall, the most a loop can yield.
    ticked = list(make(agent).learn(steps, tick_seconds=0.0))
    ticks = [r for r in ticked if r.tick]
    assert ticks, "no tick inside the updates"
    assert all(r.scalars == {} for r in ticks)
    assert [r for r in ticked if not r.tick] == plain
    assert not any(r.tick for r in plain)


def test_ticks_fall_due_by_time_only_when_asked() -> None:
    never = Ticks(None)
    assert not never.due()
    ticks = Ticks(0.05)
    assert not ticks.due()
    time.sleep(0.06)
    assert ticks.due() and not ticks.due()


@pytest.mark.parametrize(
    ("agent", "field"),
    [("dqn", "gradient_steps"), ("meta-dqn", "gradient_steps")],
)
def test_fields_that_drive_inner_loops_have_an_upper_bound(agent: str, field: str) -> None:
    config = AGENTS[agent].config
    config(**{field: 100_000})  # what the stop test trains with stays allowed
    with pytest.raises(ConfigError, match=field):
        config(**{field: 10**12})


# --- the runner at ticks ------------------------------------------------------------------
class LongUpdateAgent:
    """Two reports, then an update that ticks forever (a stop is the only way out)."""

    def __init__(self) -> None:
        self.steps_done = 0
        self.gradient_steps = 0

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        for step in (10, 20):
            self.steps_done = step
            yield Report(step, {"train/loss": float(step)})
        ticks = Ticks(tick_seconds)
        while True:
            self.gradient_steps += 1
            time.sleep(0.001)
            if ticks.due():
                yield Report(self.steps_done, {}, tick=True)

    def state_dict(self) -> dict[str, Any]:
        return {"step": torch.tensor(self.steps_done), "updates": self.gradient_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state["step"])

    def weights(self) -> dict[str, Any]:
        return {}


def test_a_stop_inside_a_long_update_takes_effect_at_a_tick_with_a_checkpoint(
    home: Path, monkeypatch
) -> None:
    agent = LongUpdateAgent()
    monkeypatch.setattr(runner, "build_agent", lambda run: agent)
    store = Store(home)
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=100
    )
    event = runner.threading.Event()
    timer = runner.threading.Timer(0.5, event.set)
    timer.start()
    began = time.monotonic()
    run = runner.execute(store, run_id, stop_event=event)
    assert time.monotonic() - began < 5
    assert run.status == "stopped" and run.checkpoint_step == run.steps_done == 20
    saved = torch.load(run.checkpoint_path, weights_only=True)
    assert saved["updates"] > 0  # taken inside the update, not before it
    assert "inside an update" in store.log_path(run_id).read_text()
    # Ticks write no metric rows: only the two reports'.
    assert [(key, step) for key, step, _ in store.metrics(run_id)] == [
        ("train/loss", 10),
        ("train/loss", 20),
    ]
    store.close()
