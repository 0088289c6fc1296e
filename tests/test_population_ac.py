"""The actor-critic populations (a2c, ppo, mg-a2c): a population of one is the lone agent,
every member of a population computes what a population of one with its seed and values
computes, members' checkpoints move between populations, and the lone agents' checkpoints
from before populations still load."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.common.population import PopulationReport, select
from agents.registry import AGENTS
from envs.config import ConfigError, fields
from envs.registry import get_task

DATA = Path(__file__).parent / "data"
STEPS = 2_000
TOLERANCE = dict(rel=1e-5, abs=1e-5)

SMALL: dict[str, dict[str, Any]] = {
    "a2c": dict(hidden_size=16, eval_interval=700, eval_episodes=3),
    "mg-a2c": dict(hidden_size=16, eval_interval=700, eval_episodes=3),
    "ppo": dict(
        hidden_size=16,
        num_envs=2,
        rollout_steps=64,
        minibatch_size=32,
        ppo_epochs=2,
        eval_interval=700,
        eval_episodes=3,
    ),
}
"""Small settings that still train for ``STEPS`` steps with several reports and evaluations."""

VARIED: dict[str, list[dict[str, Any]]] = {
    "a2c": [
        dict(discount=0.99, learning_rate=7e-4, entropy_coef=0.0),
        dict(discount=0.9, learning_rate=3e-3, entropy_coef=0.01),
        dict(discount=0.5, learning_rate=1e-4, entropy_coef=0.1, value_coef=0.25),
        dict(discount=0.97, gae_lambda=0.9, max_grad_norm=0.1),
    ],
    "mg-a2c": [
        dict(discount=0.99, meta_learning_rate=1e-2),
        dict(discount=0.9, learning_rate=3e-3, entropy_coef=0.01, meta_discount=0.9),
        dict(discount=0.5, meta_learning_rate=0.1, gae_lambda=0.8),
        dict(discount=0.97, max_grad_norm=0.1, meta_discount=0.995),
    ],
    "ppo": [
        dict(discount=0.99, learning_rate=2.5e-4, entropy_coef=0.01),
        dict(discount=0.9, learning_rate=1e-3, entropy_coef=0.0, clip_range=0.1),
        dict(discount=0.5, learning_rate=1e-4, entropy_coef=0.1, gae_lambda=0.8),
        dict(discount=0.97, max_grad_norm=0.1, value_coef=1.0, target_kl=0.005),
    ],
}
"""Each member's own values of the fields that may differ per member."""
SEEDS = [0, 1, 2, 7]
NAMES = sorted(SMALL)


def configs(name: str, varied: list[dict[str, Any]]) -> list:
    return [AGENTS[name].config(**(SMALL[name] | values)) for values in varied]


def population(name: str, varied: list[dict[str, Any]], seeds: list[int]):
    family = get_task("cartpole")
    population_class = AGENTS[name].population
    return population_class(configs(name, varied), family, family.Params(), seeds)


def member_reports(reports: list[PopulationReport], member: int) -> list[tuple]:
    return [(r.step, r.scalars[member]) for r in reports if not r.tick]


def assert_same(got: list[tuple], expected: list[tuple]) -> None:
    """Same steps and keys, every scalar within 1e-5."""
    assert [step for step, _ in got] == [step for step, _ in expected]
    for (step, scalars), (_, wanted) in zip(got, expected, strict=True):
        assert sorted(scalars) == sorted(wanted), step
        assert scalars == pytest.approx(wanted, **TOLERANCE), step


@pytest.mark.parametrize("name", NAMES)
def test_a_population_of_one_is_the_lone_agent(name: str) -> None:
    family = get_task("cartpole")
    spec = AGENTS[name]
    lone = spec.make(spec.config(**SMALL[name]), family, family.Params(), 5)
    expected = [(r.step, r.scalars) for r in lone.learn(STEPS) if not r.tick]
    got = member_reports(list(population(name, [{}], [5]).learn(STEPS)), 0)
    assert len(got) >= 3 and any("eval/episode_return" in s for _, s in got)
    assert_same(got, expected)


@pytest.mark.parametrize("name", NAMES)
def test_each_member_computes_what_it_computes_alone(name: str) -> None:
    """Four members with their own seeds, discounts, learning rates and coefficients:
    member m's reports, every scalar at every step, are a population of one's."""
    reports = list(population(name, VARIED[name], SEEDS).learn(STEPS))
    finals = [member_reports(reports, m)[-1][1]["train/value_loss"] for m in range(4)]
    assert len(set(finals)) == 4  # the members really differ
    for member, (values, seed) in enumerate(zip(VARIED[name], SEEDS, strict=True)):
        alone = list(population(name, [values], [seed]).learn(STEPS))
        assert_same(member_reports(reports, member), member_reports(alone, 0))


@pytest.mark.parametrize("name", NAMES)
def test_a_members_checkpoint_continues_in_a_population_of_one(name: str) -> None:
    """member_state(m), through torch.save and a weights-only load, continues member m
    exactly in a population of one, as it does in the population it came from and in a
    population of some of its members (``select``)."""
    members = population(name, VARIED[name], SEEDS)
    list(members.learn(STEPS // 2))
    buffer = io.BytesIO()
    torch.save(members.member_state(2), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    alone = population(name, [VARIED[name][2]], [SEEDS[2]])
    alone.load_member_state(0, state)
    family = get_task("cartpole")
    kept = select(members, [3, 2], family, family.Params())  # as when member 0 and 1 stop
    continued = member_reports(list(members.learn(STEPS)), 2)
    assert continued and continued[0][0] > STEPS // 2
    assert_same(member_reports(list(alone.learn(STEPS)), 0), continued)
    assert_same(member_reports(list(kept.learn(STEPS)), 1), continued)


@pytest.mark.parametrize("name", NAMES)
def test_a_lone_checkpoint_from_before_populations_loads(name: str) -> None:
    """A checkpoint the lone agent saved before populations (tests/data, made with the
    previous code: seed 3, 300 steps on cartpole) loads into a member of a population of
    two; its networks act as the saved ones, its optimiser state and generator are the
    saved ones, and it trains on."""
    saved = torch.load(DATA / f"lone-{name}-checkpoint.pt", weights_only=True)
    state = saved["state"]
    spec = AGENTS[name]
    family = get_task("cartpole")
    config = spec.config(**saved["config"])
    members = spec.population([config, config], family, family.Params(), [9, saved["seed"]])
    members.load_member_state(1, state)
    again = members.member_state(1)
    for key, value in state["net"].items():
        assert torch.equal(again["net"][key], value), key
    slots = state["optimizer"]["state"]
    for index, entry in again["optimizer"]["state"].items():
        for key, value in entry.items():
            assert torch.allclose(torch.as_tensor(value), torch.as_tensor(slots[index][key]))
    assert again["rng"] == state["rng"] and again["steps_done"] == state["steps_done"]
    if "discount" in state:
        assert float(again["discount"]["eta"]) == float(state["discount"]["eta"])
    observations = np.random.default_rng(0).normal(size=(2 * 16, 4)).astype(np.float32)
    actions = members.greedy_actions(observations).reshape(2, 16)
    old = old_greedy_actions(name, config, state, torch.as_tensor(observations[16:]))
    assert np.array_equal(actions[1], old)
    reports = [r for r in members.learn(state["steps_done"] + 500) if not r.tick]
    assert reports[-1].step >= state["steps_done"] + 500
    assert np.isfinite(reports[-1].scalars[1]["eval/episode_return"])


def old_greedy_actions(name: str, config, state: dict, obs: torch.Tensor) -> np.ndarray:
    """What the saved network (an nn.Module loading the checkpoint) would do."""
    if name == "mg-a2c":
        from agents.mg_a2c import DiscountActorCritic

        net = DiscountActorCritic(4, 2, config.hidden_size, config.condition_on_discount)
        net.load_state_dict(state["net"])
        logits = net(obs, torch.sigmoid(state["discount"]["eta"]))[0]
    else:
        from agents.common.networks import ActorCritic

        net = ActorCritic(4, 2, config.hidden_size)
        net.load_state_dict(state["net"])
        logits = net(obs)[0]
    return logits.argmax(-1).numpy()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("task", AGENTS["a2c"].tasks)
def test_a_population_trains_on_every_supported_family(name: str, task: str) -> None:
    assert AGENTS[name].tasks == AGENTS["a2c"].tasks
    family = get_task(task)
    spec = AGENTS[name]
    small = SMALL[name] | dict(eval_interval=10**6, eval_episodes=2)
    configs = [spec.config(**small, discount=discount) for discount in (0.9, 0.99)]
    reports = [r for r in spec.population(configs, family, family.Params(), [0, 1]).learn(300)]
    assert reports[-1].step >= 300 and len(reports[-1].scalars) == 2
    assert all("eval/episode_return" in scalars for scalars in reports[-1].scalars)
    assert [r.step for r in reports] == sorted({r.step for r in reports})


@pytest.mark.parametrize("name", NAMES)
def test_ticks_change_no_number(name: str) -> None:
    """With ticks due all the time a population yields them (one empty dict per member)
    and the reports between them are those of a run without ticks."""
    plain = list(population(name, VARIED[name][:2], SEEDS[:2]).learn(1_000))
    ticked = list(population(name, VARIED[name][:2], SEEDS[:2]).learn(1_000, tick_seconds=0))
    ticks = [r for r in ticked if r.tick]
    assert ticks and all(r.scalars == [{}, {}] for r in ticks)
    for member in range(2):
        assert_same(member_reports(ticked, member), member_reports(plain, member))


PER_MEMBER = {
    "a2c": "discount entropy_coef gae_lambda learning_rate max_grad_norm value_coef",
    "mg-a2c": "discount entropy_coef gae_lambda learning_rate max_grad_norm meta_discount "
    "meta_learning_rate value_coef",
    "ppo": "clip_range discount entropy_coef gae_lambda learning_rate max_grad_norm target_kl "
    "value_coef",
}
"""The fields each member may set for itself; the rest set shapes or the loop's structure."""


@pytest.mark.parametrize("name", NAMES)
def test_members_may_differ_only_in_their_per_member_fields(name: str) -> None:
    spec = AGENTS[name]
    declared = {info.name for info in fields(spec.config) if info.per_member}
    assert declared == set(PER_MEMBER[name].split())
    with pytest.raises(ConfigError, match="^hidden_size differs across the members"):
        population(name, [dict(hidden_size=8), dict(hidden_size=16)], [0, 1])


def test_mg_a2c_members_conditioned_on_their_discounts_compute_what_they_compute_alone() -> None:
    """The gamma embedding and the critic's own baseline (no outer head): each member's
    network sees its own gamma, the meta-gradient flows through its own embedding."""
    shared = dict(condition_on_discount=True, outer_value_head=False)
    varied = [shared | VARIED["mg-a2c"][1], shared | VARIED["mg-a2c"][2]]
    reports = list(population("mg-a2c", varied, SEEDS[:2]).learn(STEPS // 2))
    curves = [[s["meta/discount"] for _, s in member_reports(reports, m)] for m in range(2)]
    assert all(len(set(curve)) > 1 for curve in curves)  # both discounts move
    for member in range(2):
        alone = list(population("mg-a2c", [varied[member]], [SEEDS[member]]).learn(STEPS // 2))
        assert_same(member_reports(reports, member), member_reports(alone, 0))
