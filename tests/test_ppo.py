"""Feed-forward PPO: smoke runs on its families, checkpoints, and a CartPole learning check."""

from __future__ import annotations

import io

import pytest
import torch

from agents.ppo import PPOConfig, ppo_loss
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
    acting = restored.population.greedy_actions(probe)
    assert (acting == agent.population.greedy_actions(probe)).all()
    assert restored.steps_done == agent.steps_done


@pytest.mark.slow
def test_ppo_learns_cartpole() -> None:
    torch.set_num_threads(1)
    family = get_task("cartpole")
    agent = AGENTS["ppo"].make(PPOConfig(), family, family.Params(), seed=0)
    final = list(agent.learn(100_000))[-1].scalars
    assert final["eval/episode_return"] >= 400, final


def value_loss(value: float, clip: bool, old_value: float = 0.0, target: float = 1.0) -> float:
    """ppo_loss's value loss for one value (twice, so the advantages have a spread)."""
    _, stats = ppo_loss(
        torch.zeros(2, 2),
        torch.tensor([value, value]),
        torch.zeros(2, dtype=torch.int64),
        torch.log(torch.full((2,), 0.5)),
        torch.tensor([old_value, old_value]),
        torch.zeros(2),
        torch.tensor([target, target]),
        clip_range=0.2,
        value_coef=0.5,
        entropy_coef=0.0,
        clip_value_loss=clip,
    )
    return float(stats["value_loss"])


def test_clipped_value_loss_differs_exactly_when_a_value_moves_beyond_the_clip_range() -> None:
    """CleanRL's clip_vloss takes the larger of the plain error and that of the value moved
    at most clip_range (0.2) from its rollout value (0 here, return 1): it differs exactly
    where the value moved beyond the range and the stopped value is farther from the return."""
    differs = []
    for value in [-1.013 + 0.05 * k for k in range(61)]:  # none on the range's edge
        plain, clipped = value_loss(value, clip=False), value_loss(value, clip=True)
        assert clipped >= plain
        stopped = min(max(value, -0.2), 0.2)
        beyond = abs(value) > 0.2
        assert (clipped != plain) == (beyond and abs(stopped - 1.0) > abs(value - 1.0)), value
        if clipped != plain:
            assert clipped == pytest.approx(0.5 * (stopped - 1.0) ** 2)
            differs.append(value)
    # Within the range, and beyond it away from the return, clipping changes nothing; a move
    # towards the return beyond the range is measured from the stopped value.
    assert differs and min(differs) > 0.2 and max(differs) < 1.8


def test_clipped_value_loss_is_off_by_default_and_changes_the_update_when_on() -> None:
    assert PPOConfig().clip_value_loss is False
    # Each agent acts and shuffles from its own seed's generator: equal settings, equal runs.
    # A step size large enough that some value moves past clip_range within the update.
    first = [
        next(make(seed=4, clip_value_loss=clip, learning_rate=3e-3).learn(10_000)).scalars
        for clip in (False, False, True)
    ]
    assert first[0] == first[1]
    assert first[0]["train/value_loss"] != pytest.approx(first[2]["train/value_loss"])
