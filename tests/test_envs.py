"""Task families: env checker, batched against single versions, contexts and splits."""

from __future__ import annotations

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given
from hypothesis import strategies as st

from envs.config import ConfigError, build
from envs.control import CONTEXTUAL_FAMILIES, CartPoleParams
from envs.registry import TASKS, get_task

META_FAMILIES = [name for name in TASKS if name.startswith("bandit") or name == "tabular-mdp"]
SAMPLED = {
    "bandit": {"arms": 3, "pulls": 7},
    "tabular-mdp": {"states": 4, "actions": 3, "episode_length": 3, "episodes": 2},
    "gridworld": {"size": 4, "episode_length": 5, "episodes": 3},
    "cartpole": {"resample": True, "visible_context": True, "split": "test"},
    "mountaincar": {"resample": True, "visible_context": True},
    "pendulum": {"resample": True, "split": "all"},
    "lunarlander": {"resample": True, "visible_context": True},
    "foraging": {"size": 5, "visible_task": True, "weights": "1,-1,0.5"},
    "chain": {"length": 4, "exit_reward": 0.5},
    "scavenger": {"reward": "linear", "weights": "0.5,-1", "size": 7, "objects": 5},
}


@pytest.mark.parametrize(
    "name", [name for name, family in TASKS.items() if not getattr(family, "continual", False)]
)
@pytest.mark.parametrize("variant", ["default", "sampled"])
def test_every_family_passes_the_env_checker(name: str, variant: str) -> None:
    family = get_task(name)
    values = SAMPLED.get(name, {"pulls": 5}) if variant == "sampled" else {}
    env = family.make_env(build(family.Params, values, owner=name))
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)  # checker warnings are failures,
        # except unbounded Boxes: gymnasium's own CartPole declares infinite velocities.
        warnings.filterwarnings("ignore", message=".*infinity.*")
        # Contexts live in a wrapper around gymnasium's env, so the wrapper is what we check.
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version.*")
        # Pendulum-v1's own torque space is [-2, 2]; we keep gymnasium's dynamics as they are.
        warnings.filterwarnings("ignore", message=".*symmetric and normalized space.*")
        check_env(env, skip_render_check=True)
    env.close()


def mean_total_reward_single(name: str, values: dict, episodes: int, seed: int) -> np.ndarray:
    family = get_task(name)
    env = family.make_env(build(family.Params, values, owner=name))
    rng = np.random.default_rng(seed)
    totals = []
    for episode in range(episodes):
        env.reset(seed=seed * 100_000 + episode)
        total, done = 0.0, False
        while not done:
            _, reward, done, _, _ = env.step(int(rng.integers(env.action_space.n)))
            total += reward
        totals.append(total)
    return np.array(totals)


def mean_total_reward_batched(name: str, values: dict, tasks: int, seed: int) -> np.ndarray:
    family = get_task(name)
    params = build(family.Params, values, owner=name)
    batch = family.meta_batch(params, tasks, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    batch.reset()
    totals = np.zeros(tasks)
    done = False
    while not done:
        _, rewards, _, done = batch.step(rng.integers(batch.num_actions, size=tasks))
        totals += rewards
    return totals


# (family, parameters, expected mean total reward of the uniformly random policy)
RANDOM_POLICY = [
    ("bandit", {"arms": 3, "pulls": 20}, 10.0),
    ("bandit", {"arms": 3, "pulls": 20, "probs": "0.1,0.2,0.9"}, 8.0),
    ("bandit-dependent-easy", {"pulls": 20}, 10.0),
    ("bandit-independent", {"pulls": 20, "probs": "0.3,0.9"}, 12.0),
    ("tabular-mdp", {"episodes": 2}, 20.0),
]


@pytest.mark.parametrize(("name", "values", "expected"), RANDOM_POLICY)
def test_batched_matches_single_in_distribution(name, values, expected) -> None:
    single = mean_total_reward_single(name, values, episodes=600, seed=1)
    batched = mean_total_reward_batched(name, values, tasks=4000, seed=2)
    se = np.hypot(single.std() / np.sqrt(len(single)), batched.std() / np.sqrt(len(batched)))
    assert abs(single.mean() - batched.mean()) < 4 * se
    assert abs(batched.mean() - expected) < 4 * batched.std() / np.sqrt(len(batched))
    assert single.std() == pytest.approx(batched.std(), rel=0.15)


def test_batched_tabular_transitions_follow_the_task() -> None:
    family = get_task("tabular-mdp")
    params = family.Params(states=3, actions=2)
    batch = family.batch(params, 20_000)
    rng = np.random.default_rng(0)
    batch.sample_tasks(rng)
    batch.transitions[:] = batch.transitions[0]  # the same MDP in every slot
    batch._cumulative[:] = batch._cumulative[0]
    batch.reset_trial(rng)
    batch.step(np.ones(20_000, dtype=int), rng)
    frequencies = np.bincount(batch.states, minlength=3) / 20_000
    assert frequencies == pytest.approx(batch.transitions[0, 0, 1], abs=0.02)


def test_meta_observation_carries_previous_action_reward_done_and_time() -> None:
    family = get_task("bandit")
    env = family.make_env(family.Params(arms=3, pulls=4, probs="0,0,1"))
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0, 0, 0, 0, 0, 0]
    obs, reward, done, _, _ = env.step(2)
    assert obs.tolist() == [0, 0, 1, 1, 1, 0.25] and reward == 1.0 and not done
    for _ in range(3):
        obs, reward, done, _, _ = env.step(0)
    assert obs.tolist() == [1, 0, 0, 0, 1, 1.0] and done


def test_tasks_are_resampled_at_each_meta_episode() -> None:
    env = get_task("bandit").make_env(get_task("bandit").Params(arms=2, pulls=1))
    env.reset(seed=0)
    first = env.unwrapped.task["probs"].copy()
    env.reset()
    assert not np.array_equal(first, env.unwrapped.task["probs"])


# --- contextual control -------------------------------------------------------------------
def rollout(env: gym.Env, seed: int, steps: int) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    seen = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        seen.append(np.append(obs, reward))
        if terminated or truncated:
            seen.append(env.reset()[0])
    return seen


@pytest.mark.parametrize("family", CONTEXTUAL_FAMILIES, ids=lambda f: f.name)
def test_default_context_reproduces_plain_gymnasium(family) -> None:
    ours = rollout(family.make_env(family.Params()), seed=3, steps=300)
    plain = rollout(gym.make(family.env_id), seed=3, steps=300)
    assert all(np.array_equal(a, b) for a, b in zip(ours, plain, strict=True))


def test_batched_cartpole_default_context_matches_gymnasium_vector_env() -> None:
    family = get_task("cartpole")
    ours = family.make_vector_env(CartPoleParams(), 8)
    plain = gym.make_vec("CartPole-v1", num_envs=8, vectorization_mode="vector_entry_point")
    a, _ = ours.reset(seed=5)
    b, _ = plain.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(400):
        actions = rng.integers(0, 2, 8)
        assert np.array_equal(a, b)
        a, ra, ta, ua, _ = ours.step(actions)
        b, rb, tb, ub, _ = plain.step(actions)
        assert np.array_equal(ra, rb) and np.array_equal(ta | ua, tb | ub)


def test_context_changes_the_dynamics() -> None:
    family = get_task("cartpole")
    light = rollout(family.make_env(CartPoleParams(gravity=0.3)), seed=1, steps=20)
    plain = rollout(family.make_env(CartPoleParams()), seed=1, steps=20)
    assert not np.array_equal(light[5], plain[5])


def test_context_visible_only_when_asked() -> None:
    family = get_task("cartpole")
    hidden = family.make_env(CartPoleParams(gravity=2.2))
    shown = family.make_env(CartPoleParams(gravity=2.2, visible_context=True))
    assert hidden.observation_space.shape == (4,)
    obs, _ = shown.reset(seed=0)
    assert obs.shape == (7,) and obs[4] == pytest.approx(1.0)  # 2.2 is the top of [0.2, 2.2]


def test_resampled_contexts_stay_in_their_split() -> None:
    family = get_task("cartpole")
    for split in ("train", "test"):
        params = CartPoleParams(resample=True, split=split)
        low, high = params.split_range()
        vector = family.make_vector_env(params, 64)
        vector.reset(seed=0)
        for _ in range(200):
            vector.step(np.zeros(64, dtype=int))
            for factors in vector.factors.values():
                assert ((factors >= low) & (factors < high)).all()


@given(
    low=st.floats(0.01, 5),
    width=st.floats(0.01, 5),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**16),
)
def test_train_and_test_ranges_never_overlap(low, width, fraction, seed) -> None:
    params = CartPoleParams(context_low=low, context_high=low + width, test_fraction=fraction)
    train, test = params.split_range("train"), params.split_range("test")
    assert train[1] <= test[0] and train[0] == low and test[1] == low + width
    rng = np.random.default_rng(seed)
    family = get_task("cartpole")
    for split, (lo, hi) in (("train", train), ("test", test)):
        sampled = family.sample(params.replace(split=split), rng)
        assert all(lo <= value <= hi for value in sampled.values())


BAD_PARAMS = [
    ("bandit", {"arms": "0"}, "arms=0 is out of range"),
    ("bandit", {"pulls": "-3"}, "pulls=-3 is out of range"),
    ("bandit", {"arms": "2", "probs": "0.5,1.5"}, "every probability must lie in [0, 1]"),
    ("bandit-dependent-easy", {"probs": "0.5"}, "expected one per arm (2)"),
    ("bandit", {"arm": "3"}, "unknown config key 'arm' for bandit (did you mean arms?)"),
    ("cartpole", {"context_low": "2", "context_high": "1"}, "empty or inverted"),
    ("cartpole", {"context_low": "1", "context_high": "1"}, "empty or inverted"),
    ("cartpole", {"split": "validation"}, "split='validation' is not one of train, interpolation"),
    ("foraging", {"weights": "1,2"}, "expected one per item type (3)"),
]


@pytest.mark.parametrize(("name", "values", "message"), BAD_PARAMS)
def test_bad_task_parameters_are_refused_with_a_reason(name, values, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build(get_task(name).Params, values, owner=name)


def test_chain_pays_the_goal_to_walkers_and_the_exit_to_quitters() -> None:
    family = get_task("chain")
    params = build(family.Params, {"length": 4, "exit_reward": 0.5}, owner="chain")
    assert params.critical_discount == pytest.approx(0.5 ** (1 / 3))
    env = family.make_env(params)
    env.reset(seed=0)
    rewards = [env.step(1)[1:3] for _ in range(4)]
    assert rewards == [(0.0, False), (0.0, False), (0.0, False), (1.0, True)]
    env.reset(seed=0)
    env.step(1)
    assert env.step(0)[1:3] == (0.5, True)
    with pytest.raises(ConfigError, match="exit_reward=1.5 must be below goal_reward"):
        build(family.Params, {"exit_reward": 1.5}, owner="chain")
