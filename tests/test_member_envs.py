"""Member envs: each member's block of a population's envs is, step for step, the lone
vector env reset with that member's seed (envs/population.py); the batched vector envs of
chain and foraging are, step for step, today's SyncVectorEnv of their single envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.registry import CONTROL_TASKS
from envs.config import build, restore
from envs.control import CartPoleParams
from envs.population import BatchedMemberEnvs
from envs.registry import get_task

CASES = [(name, {}) for name in CONTROL_TASKS] + [
    ("cartpole", {"resample": True, "visible_context": True}),
    ("cartpole", {"gravity": 1.7, "tau": 0.6}),
    ("foraging", {"size": 4, "items_per_type": 1, "episode_length": 9, "visible_task": True}),
    ("foraging", {"size": 5, "weights": "1,-1,0.5"}),
]
# Steps of the first reset round: at least two episodes of a random policy in every copy
# (MountainCar only ends by truncation, at 200). The second round resets with new
# seeds mid-episode and plays a little.
STEPS = {"mountaincar": 410, "lunarlander": 320}
ROUNDS = ([11, 3, 1000], [5, 6, 7])
SECOND_ROUND_STEPS = 30
ENVS_PER_MEMBER = 2


def case_id(case: tuple[str, dict]) -> str:
    name, values = case
    return name + "".join(f"-{key}={value}" for key, value in values.items())


def rollout(env, seeds, actions, member_form: bool):
    """Per step: observations, rewards, terminated, truncated (the reset's observations
    first), across reset rounds."""
    seen = []
    for round_seeds, round_actions in zip(seeds, actions, strict=True):
        if member_form:
            observations, _ = env.reset(round_seeds)
        else:
            observations, _ = env.reset(seed=round_seeds)
        seen.append((observations, None, None, None))
        for step_actions in round_actions:
            seen.append(env.step(step_actions)[:4])
    env.close()
    return seen


def assert_same(block, lone) -> None:
    assert len(block) == len(lone)
    for ours, theirs in zip(block, lone, strict=True):
        for a, b in zip(ours, theirs, strict=True):
            if b is None:
                continue
            assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("members", [3, 1])
def test_each_member_block_is_the_lone_env_with_its_seed(case, members: int) -> None:
    name, values = case
    family = get_task(name)
    params = build(family.Params, values, owner=name)
    n = ENVS_PER_MEMBER
    steps = STEPS.get(name, 200)
    env = family.make_member_envs(params, n, members)
    assert (env.members, env.envs_per_member, env.num_envs) == (members, n, members * n)
    rng = np.random.default_rng(0)
    high = env.single_action_space.n
    actions = [
        rng.integers(0, high, (length, members * n)) for length in (steps, SECOND_ROUND_STEPS)
    ]
    seeds = [round_seeds[:members] for round_seeds in ROUNDS]
    together = rollout(env, seeds, actions, member_form=True)
    for m in range(members):
        block = slice(m * n, (m + 1) * n)
        lone = rollout(
            family.make_vector_env(params, n),
            [round_seeds[m] for round_seeds in seeds],
            [round_actions[:, block] for round_actions in actions],
            member_form=False,
        )
        assert_same([tuple(None if x is None else x[block] for x in row) for row in together], lone)
        ends = sum(int((row[2] | row[3]).sum()) for row in lone if row[2] is not None)
        assert ends >= 2 * n, f"member {m} crossed only {ends} episode ends"


@pytest.mark.parametrize("name", ["cartpole", "chain", "foraging"])
def test_families_with_a_numpy_batch_step_members_as_one_env(name: str) -> None:
    family = get_task(name)
    env = family.make_member_envs(family.Params(), 4, 16)
    assert isinstance(env, BatchedMemberEnvs) and env.num_envs == 64
    observations, _ = env.reset(list(range(16)))
    assert observations.shape == (64, *env.single_observation_space.shape)
    with pytest.raises(ValueError, match="15 seeds for 16 members"):
        env.reset(list(range(15)))


SINGLE = [
    ("chain", {"length": 4, "exit_reward": 0.5}),
    ("foraging", {}),
    ("foraging", {"size": 4, "items_per_type": 1, "episode_length": 7, "visible_task": True}),
    ("foraging", {"size": 5, "weights": "1,-1,0.5"}),
]


@pytest.mark.parametrize("case", SINGLE, ids=case_id)
def test_batched_vector_env_is_todays_sync_vector_env(case) -> None:
    """The vector envs of chain and foraging replace a SyncVectorEnv of single envs: same
    observations, rewards, ends and infos (phi, weights), RNG draw for RNG draw."""
    name, values = case
    family = get_task(name)
    params = build(family.Params, values, owner=name)
    ours = family.make_vector_env(params, 5)
    plain = gym.vector.SyncVectorEnv([lambda: family.make_env(params) for _ in range(5)])
    rng = np.random.default_rng(1)
    for seed in (4, None, 9):  # None: each copy continues its own generator
        a, info_a = ours.reset(seed=seed)
        b, info_b = plain.reset(seed=seed)
        assert np.array_equal(a, b) and info_a.keys() == info_b.keys()
        for _ in range(120):
            actions = rng.integers(0, ours.single_action_space.n, 5)
            *a, info_a = ours.step(actions)
            *b, info_b = plain.step(actions)
            for x, y in zip(a, b, strict=True):
                assert x.dtype == y.dtype and np.array_equal(x, y)
            assert info_a.keys() == info_b.keys()
            for key in info_b:
                assert np.array_equal(info_a[key], info_b[key])


def test_resampled_cartpole_draws_in_the_order_it_always_has() -> None:
    """The lone env draws, from the generator its seed makes: at reset the initial states
    and then each factor; at a step that restarts k envs, k of each factor and then their
    initial states (gymnasium's draws, and the lone env's before populations), so a
    seeded run replays what it did. Its parameters are a run's stored before the
    evaluation splits, which ``restore`` rebuilds with the box it trained on."""
    stored = {"resample": True, "split": "train", "context_low": 0.2, "context_high": 2.2}
    params = restore(CartPoleParams, stored | {"test_fraction": 0.2}, owner="cartpole")
    names, (low, high) = params.factor_names, params.split_range()
    env = get_task("cartpole").make_vector_env(params, 6)
    rng = np.random.default_rng(3)
    observations, _ = env.reset(seed=3)
    assert np.array_equal(observations, rng.uniform(-0.05, 0.05, (4, 6)).T.astype(np.float32))
    for name in names:
        assert np.array_equal(env.factors[name], rng.uniform(low, high, 6))
    restarts = 0
    for step in range(60):
        done = env.prev_done.copy()
        observations, *_ = env.step(np.full(6, step % 2))
        if done.any():
            restarts += 1
            for name in names:
                assert np.array_equal(env.factors[name][done], rng.uniform(low, high, done.sum()))
            states = rng.uniform(-0.05, 0.05, (4, done.sum())).T.astype(np.float32)
            assert np.array_equal(observations[done], states)
    assert restarts >= 2
