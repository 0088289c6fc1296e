"""sac and ddpg (agents/sac.py, agents/ddpg.py over agents/common/off_policy.py): actions
inside the bounds, the temperature moving the right way, targets lagging, checkpoints
that continue a run exactly, a population's members computing their lone runs,
refusals, and (slow) learning Pendulum."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.common.replay import ContinuousReplay
from agents.registry import get_agent
from envs.registry import get_task

DATA = Path(__file__).parent / "data"
SMALL = {"learning_starts": 64, "batch_size": 32, "hidden_size": 16, "eval_episodes": 1}


def make(name: str, seed: int = 0, **overrides):
    """A population of one (what a lone run trains)."""
    spec, family = get_agent(name), get_task("pendulum")
    return spec.population([spec.config(**(SMALL | overrides))], family, family.Params(), [seed])


def weights_equal(left: dict, right: dict) -> bool:
    return all(torch.equal(left[net][key], right[net][key]) for net in left for key in left[net])


@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_actions_stay_inside_the_bounds(name: str) -> None:
    agent = make(name)
    obs = torch.randn(1, 500, agent.observation_size) * 10
    for explore in (True, False):
        actions = agent.act(obs, explore)
        assert actions.shape == (1, 500, 1) and actions.abs().max() <= 1.0
    scaled = agent.env_action(np.array([-1.0, 0.0, 1.0], np.float32))
    assert scaled.tolist() == pytest.approx([-2.0, 0.0, 2.0])  # Pendulum's torque bounds


@pytest.mark.parametrize(("target", "direction"), [(10.0, 1), (-100.0, -1)])
def test_the_temperature_rises_below_the_target_entropy_and_falls_above(target, direction):
    agent = make("sac", learning_starts=32)
    list(agent.learn(40))  # fills the replay
    agent.target_entropy = target
    before = agent.log_alpha.item()
    for _ in range(4):  # two actor steps every second update
        agent.update(agent.replay.sample(32, agent.rngs))
    assert np.sign(agent.log_alpha.item() - before) == direction


@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_target_networks_follow_by_tau(name: str) -> None:
    agent = make(name, learning_starts=32, tau=0.1, policy_frequency=1)
    list(agent.learn(40))
    online, target = ("q1", "q1_target") if name == "sac" else ("critic", "critic_target")
    old = agent.member_weights(0)[target]
    agent.update(agent.replay.sample(32, agent.rngs))
    new_online = agent.member_weights(0)[online]
    for key, value in agent.member_weights(0)[target].items():
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
    torch.save(first.member_state(0), buffer)  # as the store does: a copy, not live tensors
    list(first.learn(260))
    second = make(name, seed=3, **settings)  # a resumed run is rebuilt with its own seed
    buffer.seek(0)
    second.load_member_state(0, torch.load(buffer, weights_only=True))
    list(second.learn(260))
    assert first.steps_done == second.steps_done == 260
    assert weights_equal(first.member_weights(0), second.member_weights(0))


PER_MEMBER = {"sac": ("policy_lr", "q_lr", "alpha"), "ddpg": ("learning_rate", "exploration_noise")}


@pytest.mark.parametrize("mode", ["hidden", "learned", "probing"])
@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_each_member_of_a_population_computes_its_lone_run(name: str, mode: str) -> None:
    """Three members, each with its own seed and its own value of every per-member
    field, train to what three lone runs train, reports included, across two episode
    ends (pendulum's 200-step time limit: NEXT_STEP's reset steps store nothing)."""
    spec, family = get_agent(name), get_task("pendulum")
    base = SMALL | CONTEXT | {"context": mode, "learning_starts": 40, "eval_interval": 150}
    configs = [
        spec.config(**base, discount=0.9 + 0.03 * m, tau=0.01 * (m + 1),
                    **{f: getattr(spec.config(), f) * (1 + 0.5 * m) for f in PER_MEMBER[name]})
        for m in range(3)
    ]  # fmt: skip
    params = family.Params(resample=True)
    population = spec.population(configs, family, params, [5, 6, 7])
    together = list(population.learn(450))
    for member, config in enumerate(configs):
        lone = spec.population([config], family, params, [5 + member])
        alone = list(lone.learn(450))
        assert [r.step for r in alone] == [r.step for r in together]
        for a, b in zip(alone, together, strict=True):
            assert a.scalars[0].keys() == b.scalars[member].keys()
            for key, value in a.scalars[0].items():
                assert b.scalars[member][key] == pytest.approx(value, rel=1e-4, abs=1e-4), key
        left, right = lone.member_weights(0), population.member_weights(member)
        for net in left:
            for key in left[net]:
                assert torch.allclose(left[net][key], right[net][key], atol=1e-5), (net, key)


@pytest.mark.parametrize("name", ["sac", "ddpg"])
def test_context_modes_feed_the_networks_and_train_the_encoder_as_they_say(name: str) -> None:
    family = get_task("pendulum")
    params = family.Params(resample=True)
    spec = get_agent(name)
    sizes = {}
    for mode in ("hidden", "explicit", "learned", "predictive", "probing"):
        config = spec.config(**(SMALL | CONTEXT | {"context": mode}))
        agent = spec.population([config], family, params, [0])
        sizes[mode] = (agent.observation_size, agent.inputs.width)
        if not agent.inputs.encoded:
            continue
        list(agent.learn(200))  # pre-trained (predictive) and updating
        before = {k: v.detach().clone() for k, v in agent.encoder.items()}
        for _ in range(3):
            agent.update(agent.replay.sample(32, agent.rngs))
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
    family = get_task("pendulum")
    env = agent.wrap_vector(family.make_member_envs(agent.task_params, 1, 1))
    obs, _ = env.reset([0])
    kept = []
    for _ in range(6):
        action = agent.greedy_actions(obs)  # the env's bounds
        kept.append(float(agent.agent_action(action)[0, 0]))
        obs, *_ = env.step(action)
    assert kept[:4] == pytest.approx([1.0] * 4, abs=1e-3)  # the probe's, greedy
    assert abs(kept[4]) < 0.9  # then the actor's (untrained: near 0)
    assert obs[0, 3:].reshape(5, -1)[:4, 3].tolist() == pytest.approx(kept[:4], abs=1e-5)
    assert list(make("sac", context="probing", probe_steps=4).learn(100))[-1].step == 100


def test_sac_and_ddpg_are_refused_where_they_cannot_train(cli) -> None:
    for args, words in [
        (("run", "sac", "cartpole"), "supports: pendulum"),
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
    agent = spec.make(config, family, family.Params(), 1)  # a population of one
    reports = list(agent.learn(30_000))
    final = reports[-1].scalars["eval/episode_return"]
    assert final >= floor, f"{name}: greedy return {final:.1f} after 30,000 steps"


def test_the_replay_saves_its_rows_oldest_first_and_keeps_the_newest() -> None:
    replay = ContinuousReplay(2, 5, 1, 1)
    for i in range(7):  # member 0 wraps: rows 0-1 now hold transitions 5-6
        members = np.array([0, 1]) if i < 2 else np.array([0])  # member 1 stops after two
        rows = [[i], [10 * i]]
        replay.add(members, rows, [[0.0], [0.0]], [i, 10 * i], rows, [False, False])
    saved = replay.member_state(0)
    assert saved["rewards"].tolist() == [2, 3, 4, 5, 6]
    assert replay.member_state(1)["rewards"].tolist() == [0, 10]
    smaller = ContinuousReplay(1, 3, 1, 1)
    smaller.load_member_state(0, saved)
    assert smaller.count[0] == 3 and smaller.member_state(0)["rewards"].tolist() == [4, 5, 6]
    smaller.add(np.array([0]), [[7]], [[0.0]], [7.0], [[8]], [False])
    assert smaller.member_state(0)["rewards"].tolist() == [5, 6, 7]


def test_a_sac_population_is_one_run_per_member_each_its_lone_run(cli) -> None:
    settings = [f"{key}={value}" for key, value in SMALL.items()] + ["eval_interval=150"]
    sets = [arg for setting in settings for arg in ("--set", setting)]
    table = cli.json(
        "run", "sac", "pendulum", "--steps", "300", *sets, "--seeds", "0-1",
        "--vary", "q_lr=0.001,0.003",
    )  # fmt: skip
    assert sorted((row["seed"], row["q_lr"]) for row in table) == [
        (0, 0.001), (0, 0.003), (1, 0.001), (1, 0.003),
    ]  # fmt: skip
    assert {row["status"] for row in table} == {"completed"}
    member = next(row for row in table if (row["seed"], row["q_lr"]) == (1, 0.003))
    lone = cli.json(
        "run", "sac", "pendulum", "--steps", "300", *sets, "--set", "q_lr=0.003", "--seed", "1"
    )
    shown = cli.json("runs", "show", str(lone["id"]))
    assert shown["summary"]["eval_return_mean"] == pytest.approx(
        member["eval_return_mean"], rel=1e-4
    )


def test_a_checkpoint_of_the_lone_sac_of_before_loads_into_any_member() -> None:
    """tests/data/lone-sac-learned-checkpoint.pt was saved by the lone sac before its
    population form (commit a02b182, context=learned, seed 0, 40 steps): it loads into
    member 1 of two (its encoder's optimiser state was stacked [1, ...] then) and gives
    back every key it had, and the member trains on."""
    saved = torch.load(DATA / "lone-sac-learned-checkpoint.pt", weights_only=True)
    spec, family = get_agent("sac"), get_task("pendulum")
    config = spec.config(
        learning_starts=16, batch_size=8, hidden_size=4, buffer_size=50, eval_episodes=1,
        context="learned", context_window=2, context_size=2, encoder_hidden=4,
    )  # fmt: skip
    pop = spec.population([config] * 2, family, family.Params(resample=True), [8, 0])
    pop.load_member_state(1, saved)
    state = pop.member_state(1)
    assert set(state) == set(saved)
    encoder_entry = saved["optimizers"]["q"]["state"][len(state["optimizers"]["q"]["state"]) - 1]
    assert encoder_entry["exp_avg"].shape == (1, 2)  # its last bias, stacked as saved then
    for net, weights in saved["networks"].items():
        for key, value in weights.items():
            assert torch.equal(state["networks"][net][key], value), (net, key)
    for key in ("rewards", "observations"):
        assert torch.equal(state["replay"][key], saved["replay"][key])
    assert torch.equal(state["log_alpha"], saved["log_alpha"])
    assert list(pop.learn(80))[-1].step == 80
