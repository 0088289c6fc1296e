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


CONTEXT = {"predictive_steps": 100, "predictive_updates": 10, "probe_steps": 4}
MODES = ["hidden", "learned", "predictive", "probing"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_a_checkpoint_continues_the_run_exactly(name: str, mode: str) -> None:
    settings = CONTEXT | {"context": mode}
    first = make(name, seed=3, **settings)
    list(first.learn(150))
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)  # as the store does: a copy, not live tensors
    list(first.learn(260))
    second = make(name, seed=3, **settings)  # a resumed run is rebuilt with its own seed
    buffer.seek(0)
    # The torch RNG is the process's: load the checkpoint last, right before training.
    second.load_state_dict(torch.load(buffer, weights_only=True))
    list(second.learn(260))
    assert first.steps_done == second.steps_done == 260
    assert weights_equal(first, second)


@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_context_modes_feed_the_networks_and_train_the_encoder_as_they_say(name: str) -> None:
    family = get_task("pendulum")
    params = family.Params(resample=True)
    spec = get_agent(name)
    sizes = {}
    for mode in ("hidden", "explicit", "learned", "predictive", "probing"):
        config = spec.config(**(SMALL | CONTEXT | {"context": mode}))
        agent = spec.make(config, family, params, 0)
        sizes[mode] = (agent.observation_size, agent.inputs.width)
        if not agent.inputs.encoded:
            continue
        list(agent.learn(200))  # pre-trained (predictive) and updating
        before = {k: v.detach().clone() for k, v in agent.encoder.items()}
        for _ in range(3):
            agent.update(agent.replay.sample(32, agent.rng))
        moved = any(not torch.equal(before[k], v) for k, v in agent.encoder.items())
        assert moved == (mode == "learned"), mode  # the RL loss trains only `learned`'s
    transition = 2 * 3 + 1 + 2  # s, a, r, s', filled
    assert sizes == {
        "hidden": (3, 3),
        "explicit": (4, 4),  # pendulum's one factor, the pole length
        "learned": (3 + 8, 3 + 8 * transition),
        "predictive": (3 + 8, 3 + 8 * transition),
        "probing": (3 + 8, 3 + 5 * transition),
    }


def test_a_continuous_probe_plays_the_first_steps_and_counts_them() -> None:
    agent = make("sac", context="probing", probe_steps=4)
    with torch.no_grad():
        agent.inputs.models["probe.4.bias"][:] = 5.0  # the probe pushes hard one way
    env = agent.wrap(get_task("pendulum").make_env(agent.task_params))
    obs, _ = env.reset(seed=0)
    kept = []
    for _ in range(6):
        action = agent.choose(obs, explore=False)
        kept.append(float(action[0]))
        obs, *_ = agent.step(env, action)
    assert kept[:4] == pytest.approx([1.0] * 4, abs=1e-3)  # the probe's, greedy
    assert abs(kept[4]) < 0.9  # then the actor's (untrained: near 0)
    assert obs[3:].reshape(5, -1)[:4, 3].tolist() == pytest.approx(kept[:4])  # kept in [-1, 1]
    assert list(make("sac", context="probing", probe_steps=4).learn(100))[-1].step == 100


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
