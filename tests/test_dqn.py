"""DQN: pieces in isolation, checkpoints that continue a run, and a real learning check."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from agents.common.replay import ReplayBuffer
from agents.dqn import DQN, DQNConfig
from agents.registry import AGENTS
from envs.control import CartPoleParams
from envs.registry import get_task

TINY = dict(
    learning_starts=64,
    train_frequency=64,
    gradient_steps=2,
    batch_size=32,
    eval_interval=500,
    eval_episodes=2,
)


def make(seed: int = 0, **overrides) -> DQN:
    return DQN(DQNConfig(**(TINY | overrides)), get_task("cartpole"), CartPoleParams(), seed)


def test_replay_buffer_wraps_around() -> None:
    buffer = ReplayBuffer(capacity=4, observation_shape=(1,))
    for start in (0, 3):
        values = np.arange(start, start + 3, dtype=np.float32)
        buffer.add(values[:, None], values.astype(int), values, values[:, None], values * 0)
    assert buffer.size == 4 and buffer.position == 2
    assert sorted(buffer.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0]


def test_epsilon_decays_linearly_then_stays() -> None:
    agent = make(initial_epsilon=1.0, final_epsilon=0.1, exploration_fraction=0.5)
    agent.steps_done = 250
    assert agent.epsilon(1000) == pytest.approx(0.55)
    agent.steps_done = 900
    assert agent.epsilon(1000) == pytest.approx(0.1)


def test_settle_from_switches_to_squared_error_and_decays_the_learning_rate() -> None:
    q_taken, target = torch.zeros(2), torch.tensor([0.0, 10.0])
    short = make(settle_from=2000)
    list(short.learn(1000))  # a budget below settle_from trains as before
    assert short.optimizer.param_groups[0]["lr"] == short.config.learning_rate
    assert short.td_error(q_taken, target).item() == pytest.approx(4.75)  # Huber
    agent = make(settle_from=600)
    list(agent.learn(1000))  # last burst at 960: (1000 - 960) / (1000 - 600) of the rate
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(agent.config.learning_rate / 10)
    assert agent.td_error(q_taken, target).item() == pytest.approx(50.0)  # squared error


def test_learn_reports_in_step_order_and_ends_with_evaluation() -> None:
    reports = list(make().learn(1000))
    steps = [r.step for r in reports]
    assert steps == sorted(set(steps)) and steps[-1] == 1000
    assert "eval/episode_return" in reports[-1].scalars
    keys = set().union(*(r.scalars for r in reports))
    assert {"charts/episode_return", "train/td_loss", "train/q_values"} <= keys


def test_training_changes_q_values_toward_targets() -> None:
    agent = make()
    for _ in agent.learn(200):
        pass
    losses = [agent.train_step()[0] for _ in range(200)]
    assert np.mean(losses[-20:]) < np.mean(losses[:20])


def test_checkpoint_restores_everything_through_weights_only_load() -> None:
    agent = make(seed=3)
    generator = agent.learn(2000)
    for report in generator:
        if report.step >= 700:
            break
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    restored = make(seed=3)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.steps_done == agent.steps_done
    assert restored.buffer.size == agent.buffer.size
    filled = slice(0, agent.buffer.size)  # rows past size are never read (left uninitialised)
    assert torch.equal(restored.buffer.observations[filled], agent.buffer.observations[filled])
    probe = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    assert np.array_equal(restored.greedy_actions(probe), agent.greedy_actions(probe))
    # Same RNG state: the next minibatch and update are identical.
    assert restored.train_step() == agent.train_step()
    # And the resumed run goes on to the full budget.
    assert [r.step for r in restored.learn(2000)][-1] == 2000


def test_load_weights_takes_the_q_network_into_both_networks_and_nothing_else() -> None:
    source = make(seed=1)
    for _ in zip(range(3), source.learn(2000), strict=False):
        pass
    target = make(seed=2)
    target.load_weights(source.state_dict())
    for net in (target.q_network, target.target_network):
        for name, value in net.state_dict().items():
            assert torch.equal(value, source.q_network.state_dict()[name])
    assert target.steps_done == 0 and target.buffer.size == 0
    assert set(source.weights()) == {"q_network"}


@pytest.mark.slow
def test_dqn_solves_cartpole() -> None:
    torch.set_num_threads(1)
    agent = DQN(DQNConfig(), get_task("cartpole"), CartPoleParams(), seed=0)
    reports = list(agent.learn(50_000))
    final = reports[-1].scalars
    assert final["eval/episode_return"] >= 475, final


@pytest.mark.parametrize("task", AGENTS["dqn"].tasks)
def test_dqn_runs_on_every_supported_family(task: str) -> None:
    family = get_task(task)
    agent = DQN(DQNConfig(**(TINY | {"eval_episodes": 1})), family, family.Params(), seed=0)
    reports = list(agent.learn(300))
    assert reports[-1].step == 300 and "eval/episode_return" in reports[-1].scalars
