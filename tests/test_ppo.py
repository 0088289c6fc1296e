"""Feed-forward PPO: smoke runs on its families, checkpoints, and a CartPole learning check."""

from __future__ import annotations

import io

import pytest
import torch

from agents.ppo import PPOConfig
from agents.registry import AGENTS
from envs.config import ConfigError
from envs.registry import get_task

TINY = dict(num_envs=2, rollout_steps=32, minibatch_size=16, eval_episodes=1, eval_interval=10**6)


def make(task: str = "cartpole", seed: int = 0, **overrides):
    family = get_task(task)
    return AGENTS["ppo"].make(PPOConfig(**(TINY | overrides)), family, family.Params(), seed)


@pytest.mark.parametrize("task", AGENTS["ppo"].tasks)
def test_ppo_runs_on_every_supported_family(task: str) -> None:
    reports = list(make(task).learn(200))
    assert reports[-1].step >= 200 and "eval/episode_return" in reports[-1].scalars
    assert [r.step for r in reports] == sorted({r.step for r in reports})


def test_minibatch_larger_than_batch_is_refused() -> None:
    with pytest.raises(ConfigError, match="minibatch_size=100 exceeds the batch"):
        PPOConfig(num_envs=2, rollout_steps=10, minibatch_size=100)


def test_checkpoint_round_trip() -> None:
    agent = make(seed=2)
    for _ in zip(range(2), agent.learn(10_000), strict=False):
        pass
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    restored = make(seed=2)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    probe = torch.randn(16, 4).numpy()
    assert (restored.greedy_actions(probe) == agent.greedy_actions(probe)).all()
    assert restored.steps_done == agent.steps_done


@pytest.mark.slow
def test_ppo_learns_cartpole() -> None:
    torch.set_num_threads(1)
    family = get_task("cartpole")
    agent = AGENTS["ppo"].make(PPOConfig(), family, family.Params(), seed=0)
    final = list(agent.learn(100_000))[-1].scalars
    assert final["eval/episode_return"] >= 400, final
