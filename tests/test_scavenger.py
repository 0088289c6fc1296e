"""The scavenger task (envs/scavenger.py): gymnasium's checker, its rewards on hand-made
states, the egocentric view, member blocks, and one-line errors for bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs.config import ConfigError, build
from envs.registry import get_task

FAMILY = get_task("scavenger")


def params(**values):
    return build(FAMILY.Params, values, owner="task scavenger")


@pytest.mark.parametrize("reward", ["linear", "balanced"])
def test_the_single_env_passes_gymnasiums_checker(reward: str) -> None:
    check_env(FAMILY.make_env(params(reward=reward)), skip_render_check=True)


def staged(reward: str, **values):
    """One arena with the agent at (5, 5), two type-0 objects at (5, 6), (1, 1) and one
    type-1 object at (4, 5)."""
    env = FAMILY.make_vector_env(params(reward=reward, **values), 1)
    env.reset(seed=0)
    env.grid[:] = -1
    env.grid[0, 5, 6] = env.grid[0, 1, 1] = 0
    env.grid[0, 4, 5] = 1
    env.counts[0] = (2, 1)
    env.position[0] = (5, 5)
    return env


def test_balanced_pays_for_a_most_abundant_type_and_charges_otherwise() -> None:
    env = staged("balanced")
    _, reward, *_ = env.step(np.array([2]))  # -x: collects the lone type-1 object
    assert reward[0] == -1.0  # type 1 (1 left before) was rarer than type 0 (2)
    env = staged("balanced")
    _, reward, _, _, info = env.step(np.array([0]))  # +y: a type-0 object
    assert reward[0] == 1.0 and info["phi"][0].tolist() == [1.0, 0.0]
    env.position[0] = (4, 6)
    _, reward, *_ = env.step(np.array([1]))  # -y onto (4, 5): type 1, tied 1-1 before
    assert reward[0] == 1.0


def test_linear_reward_is_the_weights_dot_phi_and_walls_block() -> None:
    env = staged("linear", weights="0.5,-2")
    assert env.step(np.array([0]))[1][0] == 0.5
    env.position[0] = (1, 1)  # on a wall's edge: -x would enter column... row 0 (a wall)
    env.grid[0, 1, 1] = -1
    env.step(np.array([2]))
    assert env.position[0].tolist() == [1, 1]


def test_the_view_is_egocentric() -> None:
    env = staged("linear")
    view = env.observe().reshape(1, 11, 11, 4)[0]
    assert view[0, 0, 2] == 1.0  # the agent's channel at the origin
    assert view[0, 1, 0] == 1.0  # type 0 one cell +y
    assert view[10, 0, 1] == 1.0  # type 1 one cell -x (wrapped)
    assert view[(0 - 5) % 11, :, 3].all()  # the wall row 0, seen from x = 5


def test_episodes_last_episode_length_steps_then_restart() -> None:
    env = FAMILY.make_vector_env(params(episode_length=7), 3)
    env.reset(seed=1)
    ends = [env.step(np.zeros(3, dtype=int))[3].all() for _ in range(8)]
    assert ends == [False] * 6 + [True, False]
    assert (env.counts.sum(axis=1) <= 10).all()


def test_a_member_block_is_the_lone_env_with_that_members_seed() -> None:
    members = FAMILY.make_member_envs(params(), 2, 3)
    lone = FAMILY.make_vector_env(params(), 2)
    observations, _ = members.reset([4, 5, 6])
    assert np.array_equal(observations[2:4], lone.reset(seed=5)[0])
    actions = np.random.default_rng(0).integers(0, 4, (120, 6))
    for step in actions:
        together = members.step(step)
        alone = lone.step(step[2:4])
        for a, b in zip(together[:4], alone[:4], strict=True):
            assert np.array_equal(a[2:4], b)


def test_layouts_are_uniform_over_free_cells_and_types() -> None:
    env = FAMILY.make_vector_env(params(), 2000)
    env.reset(seed=0)
    per_cell = (env.grid >= 0).mean(axis=0)
    assert per_cell[0].sum() == 0 and per_cell[:, 0].sum() == 0  # never on a wall
    assert abs(per_cell[1:, 1:].mean() - 0.1) < 0.002
    assert abs((env.grid == 0).sum() / (env.grid >= 0).sum() - 0.5) < 0.015  # 4 sigma


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"weights": "1,2,3"}, "weights='1,2,3' has 3 values, expected one per object type (2)"),
        ({"object_types": 1}, "reward=balanced needs object_types >= 2"),
        (
            {"reward": "linear", "object_types": 3},
            "weights='1,-1' has 2 values, expected one per object type (3)",
        ),
        ({"reward": "sparse"}, "reward='sparse' is not one of linear, balanced"),
        ({"objects": 100}, "objects=100 do not fit"),
    ],
)
def test_bad_parameters_are_refused_with_one_line(values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        params(**values)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def baseline(name: str, **values) -> float:
    from agents.reference import evaluate, policies_for

    spec = next(spec for spec in policies_for(FAMILY) if spec.name == name)
    return evaluate(FAMILY, params(**values), spec, spec.config(), 300, 0).mean


def test_reference_policies_on_fixed_seeds() -> None:
    # Nearest-object with w = (1, 1) collects all 10 objects in 50 steps on most layouts.
    assert baseline("nearest-object", reward="linear", weights="1,1") >= 9.5
    assert baseline("random", reward="linear", weights="1,1") < 3.0
    # On w = (1, -1), heading only for the positive type beats taking whatever is nearest.
    positive = baseline("nearest-positive", reward="linear", weights="1,-1")
    assert positive > 3.3 > abs(baseline("nearest-object", reward="linear", weights="1,-1"))
    # On the balanced task, keeping the counts level pays.
    assert baseline("balance-aware") > 9.0 > baseline("nearest-object") + 2


def test_a_policy_for_the_other_reward_is_not_computed(cli) -> None:
    result = cli("baselines", "scavenger", "--tasks", "20")
    assert result.exit_code == 0, result.output
    assert "nearest-positive: not computed" in result.stdout
