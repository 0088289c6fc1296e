"""sac and ddpg (agents/sac.py, agents/ddpg.py over agents/common/off_policy.py): actions
inside the bounds, the temperature moving the right way, targets lagging, checkpoints
that continue a run exactly, refusals, and (slow) learning Pendulum."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from agents.common.off_policy import Replay
from agents.registry import get_agent
from envs.registry import get_task

SMALL = {"learning_starts": 64, "batch_size": 32, "hidden_size": 16, "eval_episodes": 1}


def make(name: str, seed: int = 0, **overrides):
    spec, family = get_agent(name), get_task("pendulum")
    return spec.make(spec.config(**(SMALL | overrides)), family, family.Params(), seed)


def weights_equal(a, b) -> bool:
    left, right = a.weights(), b.weights()
    return all(torch.equal(left[net][key], right[net][key]) for net in left for key in left[net])


@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_actions_stay_inside_the_bounds(name: str) -> None:
    agent = make(name)
    obs = torch.randn(500, agent.observation_size) * 10
    for explore in (True, False):
        actions = agent.act(obs, explore)
        assert actions.shape == (500, 1) and actions.abs().max() <= 1.0
    scaled = agent.env_action(np.array([-1.0, 0.0, 1.0], np.float32))
    assert scaled.tolist() == pytest.approx([-2.0, 0.0, 2.0])  # Pendulum's torque bounds


@pytest.mark.parametrize(("target", "direction"), [(10.0, 1), (-100.0, -1)])
def test_the_temperature_rises_below_the_target_entropy_and_falls_above(target, direction):
    agent = make("sac", learning_starts=32)
    list(agent.learn(40))  # fills the replay
    agent.target_entropy = target
    before = agent.log_alpha.item()
    for _ in range(4):  # two actor steps every second update
        agent.update(agent.replay.sample(32, agent.rng))
    assert np.sign(agent.log_alpha.item() - before) == direction


@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_target_networks_follow_by_tau(name: str) -> None:
    agent = make(name, learning_starts=32, tau=0.1, policy_frequency=1)
    list(agent.learn(40))
    online, target = ("q1", "q1_target") if name == "sac" else ("critic", "critic_target")
    old = {k: v.clone() for k, v in agent.networks[target].state_dict().items()}
    agent.update(agent.replay.sample(32, agent.rng))
    new_online = agent.networks[online].state_dict()
    for key, value in agent.networks[target].state_dict().items():
        expected = old[key] + 0.1 * (new_online[key] - old[key])
        assert torch.allclose(value, expected, atol=1e-6)
        assert not torch.equal(value, new_online[key])  # lags: not a copy


@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_a_checkpoint_continues_the_run_exactly(name: str) -> None:
    first = make(name, seed=3)
    list(first.learn(150))
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)  # as the store does: a copy, not live tensors
    list(first.learn(260))
    second = make(name, seed=3)  # a resumed run is rebuilt with its own seed
    buffer.seek(0)
    # The torch RNG is the process's: load the checkpoint last, right before training.
    second.load_state_dict(torch.load(buffer, weights_only=True))
    list(second.learn(260))
    assert first.steps_done == second.steps_done == 260
    assert weights_equal(first, second)


def test_sac_and_ddpg_are_refused_where_they_cannot_train(cli) -> None:
    for args, words in [
        (("run", "sac", "cartpole"), "supports: pendulum"),
        (("run", "ddpg", "pendulum", "--seeds", "0-2"), "no population form"),
        (("run", "dqn", "pendulum"), "supports:"),
    ]:
        result = cli(*args, "--steps", "100")
        assert result.exit_code == 2, result.output
        assert words in result.output and "Traceback" not in result.output
    assert cli.json("runs", "ls") == []


@pytest.mark.slow
@pytest.mark.parametrize(("name", "floor"), [("sac", -250.0), ("ddpg", -300.0)])
def test_pendulum_is_learnt_within_30000_steps(name: str, floor: float) -> None:
    """gymnasium's Pendulum-v1 (our pendulum at the default context): a random policy
    scores about -1,200; the issue asks >= -250 (sac) and >= -300 (ddpg). Layers of 64
    units instead of the default 256 keep it near a minute on one core (the defaults'
    numbers, seeds 0-2: docs/results.md)."""
    torch.set_num_threads(1)
    spec, family = get_agent(name), get_task("pendulum")
    config = spec.config(eval_interval=30_000, hidden_size=64)
    agent = spec.make(config, family, family.Params(), 1)
    reports = list(agent.learn(30_000))
    final = reports[-1].scalars["eval/episode_return"]
    assert final >= floor, f"{name}: greedy return {final:.1f} after 30,000 steps"


def test_the_replay_saves_its_rows_oldest_first_and_keeps_the_newest() -> None:
    replay = Replay(5, 1, 1)
    for i in range(7):  # wraps: rows 0-1 now hold transitions 5-6
        replay.add([i], [0.0], float(i), [i + 1], False)
    saved = replay.state_dict()
    assert saved["rewards"].tolist() == [2, 3, 4, 5, 6]
    smaller = Replay(3, 1, 1)
    smaller.load_state_dict(saved)
    assert smaller.count == 3 and smaller.state_dict()["rewards"].tolist() == [4, 5, 6]
    smaller.add([7], [0.0], 7.0, [8], False)
    assert smaller.state_dict()["rewards"].tolist() == [5, 6, 7]
