"""Gymnasium both ways: any gymnasium env as a ``gym:ID`` family (the action space decides
which agents apply), and our families registered as ``MetaRL/...`` ids that pass the env
checker through ``gymnasium.make`` and batch through ``gymnasium.make_vec``."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agents.registry import AGENTS, get_agent
from envs.config import ConfigError
from envs.gym_registration import IDS, gym_id, has_batched_vector, has_env
from envs.registry import TASKS as ALL_TASKS
from envs.registry import get_task

TASKS = {name: family for name, family in ALL_TASKS.items() if has_env(family)}
"""Our families with environments (the continual ones are streams of labelled images)."""

BATCHED = {"chain", "cartpole", "foraging", "scavenger"}
"""Families whose vector env is a batched class of their own, not a SyncVectorEnv."""


def test_every_family_has_a_metarl_id() -> None:
    assert IDS == [gym_id(name) for name in TASKS]
    assert gym_id("bandit-dependent-easy") == "MetaRL/BanditDependentEasy-v0"
    assert {name for name, family in TASKS.items() if has_batched_vector(family)} == BATCHED


@pytest.mark.parametrize("name", list(TASKS))
def test_gymnasium_make_builds_each_family_and_it_passes_the_env_checker(name: str) -> None:
    env = gym.make(gym_id(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded Box observations are ours on purpose
        check_env(env.unwrapped, skip_render_check=True)
    ours = TASKS[name].make_env(TASKS[name].Params())
    assert env.observation_space == ours.observation_space
    assert env.action_space == ours.action_space


@pytest.mark.parametrize("name", list(TASKS))
def test_make_vec_uses_the_batched_version_where_there_is_one(name: str) -> None:
    vector = gym.make_vec(gym_id(name), 3)
    batched = not isinstance(vector, gym.vector.SyncVectorEnv)
    assert batched == (name in BATCHED)
    observations, _ = vector.reset(seed=0)
    assert observations.shape[0] == 3
    observations, rewards, terminated, truncated, _ = vector.step(vector.action_space.sample())
    assert rewards.shape == terminated.shape == truncated.shape == (3,)


def test_make_takes_the_family_parameters_and_checks_them() -> None:
    env = gym.make("MetaRL/Bandit-v0", arms=5, pulls=100)
    assert env.action_space == gym.spaces.Discrete(5)
    with pytest.raises(ConfigError, match="unknown config key 'armz'"):
        gym.make("MetaRL/Bandit-v0", armz=5)
    vector = gym.make_vec("MetaRL/Chain-v0", 2, length=4)
    assert vector.single_observation_space.shape == (4,)


def test_a_gym_family_flattens_observations_and_knows_its_action_kind() -> None:
    lake = get_task("gym:FrozenLake-v1")
    assert lake.action_kind == "discrete"
    observation, _ = lake.make_env(lake.Params()).reset(seed=0)
    assert observation.shape == (16,) and observation.sum() == 1.0  # one-hot of Discrete(16)
    assert get_task("gym:Pendulum-v1").action_kind == "box"
    assert lake.sample(lake.Params(), np.random.default_rng(0)) == {}


def test_gym_module_id_imports_the_module_first() -> None:
    family = get_task("gym:gymnasium.envs.classic_control:CartPole-v1")
    assert family.env_id == "CartPole-v1" and family.action_kind == "discrete"


def test_the_action_space_decides_which_agents_apply() -> None:
    takes_discrete = {name for name, spec in AGENTS.items() if "discrete" in spec.actions}
    assert takes_discrete == {"dqn", "meta-dqn", "a2c", "mg-a2c", "ppo"}
    for name in takes_discrete:
        get_agent(name).check_task("gym:CartPole-v1")
        with pytest.raises(ConfigError, match="takes discrete actions and gym:Pendulum-v1 has box"):
            get_agent(name).check_task("gym:Pendulum-v1")


def test_dqn_trains_a_gym_env_from_the_cli(cli) -> None:
    result = cli(
        "run", "dqn", "gym:CartPole-v1", "--steps", "600", "--set", "learning_starts=100",
        "--set", "eval_episodes=2", "--set", "train_frequency=100", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["eval_return_mean"] > 0
    shown = cli.json("runs", "show", str(summary["id"]))
    assert shown["task"] == "gym:CartPole-v1" and shown["agent_sha256"] is None


def test_ppo_says_in_one_line_why_it_cannot_train_pendulum(cli, home) -> None:
    result = cli("run", "ppo", "gym:Pendulum-v1", "--steps", "100")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "'ppo' takes discrete actions" in line and "Box(-2.0, 2.0, (1,), float32)" in line


@pytest.mark.slow
def test_dqn_learns_acrobot_in_20000_steps(cli) -> None:
    """Done-when 2 of issue 17 (docs/results.md): DQN's defaults with a final epsilon of
    0.1 and a learning rate of 1e-3 (the defaults are tuned for CartPole); a random
    policy scores -500."""
    summary = cli.json(
        "run", "dqn", "gym:Acrobot-v1", "--steps", "20000", "--seed", "1",
        "--set", "final_epsilon=0.1", "--set", "learning_rate=1e-3",
    )  # fmt: skip
    assert summary["eval_return_mean"] > -200
