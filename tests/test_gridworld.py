"""The gridworld family (VariBAD's GridNavi) and its reference policies."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agents.reference import GRIDWORLD, evaluate
from agents.reference.gridworld import KnownGoal, known_goal_return, play_gridworld
from envs.config import ConfigError, NoConfig
from envs.gridworld import GridworldBatch, GridworldParams, GridworldTrial, goal_cells
from envs.registry import get_task


def test_goals_are_the_21_cells_away_from_the_start() -> None:
    cells = goal_cells(5)
    assert len(cells) == 21
    x, y = cells % 5, cells // 5
    assert not ((x <= 1) & (y <= 1)).any()  # neither the start nor a neighbour, diagonals too
    assert set(cells) | {0, 1, 5, 6} == set(range(25))


def test_meta_episode_env_passes_gymnasium_check_env() -> None:
    env = get_task("gridworld").make_env(GridworldParams())
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (25 + 5 + 3,) and obs[0] == 1.0  # one-hot cell, start in the corner


def test_walls_stay_put_and_rewards_follow_the_goal() -> None:
    params = GridworldParams()
    env = GridworldTrial(params)
    env.set_task({"goal": 2})  # (2, 0): two steps right of the start
    env.reset(seed=0)
    rewards = [env.step(a)[1] for a in (4, 3, 2, 2, 0)]  # left, down: walls; right, right, stay
    assert rewards == pytest.approx([-0.1, -0.1, -0.1, 1.0, 1.0])
    assert env.cell == 2


def test_episode_and_meta_episode_lengths() -> None:
    env = get_task("gridworld").make_env(GridworldParams())
    env.reset(seed=1)
    steps, trial_ends, done = 0, 0, False
    while not done:
        obs, _, done, _, _ = env.step(0)
        steps += 1
        trial_ends += int(obs[25 + 5 + 1])
    assert (steps, trial_ends) == (60, 4)


def test_batched_steps_exactly_as_the_single_env() -> None:
    params = GridworldParams()
    rng = np.random.default_rng(3)
    batch = GridworldBatch(params, 6)
    batch.sample_tasks(rng)
    singles = [GridworldTrial(params) for _ in range(6)]
    for env, goal in zip(singles, batch.goals, strict=True):
        env.set_task({"goal": goal})
        env.reset(seed=0)
    batch.reset_trial(rng)
    for _ in range(15):
        actions = rng.integers(5, size=6)
        obs, rewards = batch.step(actions, rng)
        single = [env.step(int(a)) for env, a in zip(singles, actions, strict=True)]
        assert np.array_equal(obs, np.stack([s[0] for s in single]))
        assert rewards == pytest.approx([s[1] for s in single])


def test_goal_reward_must_exceed_step_reward() -> None:
    with pytest.raises(ConfigError, match="goal_reward"):
        GridworldParams(goal_reward=-1.0)


def test_known_goal_earns_the_shortest_path_return_on_every_task() -> None:
    params, played = GridworldParams(), []

    def make(batch, rng):
        played.append(batch)
        return KnownGoal(NoConfig(), params, batch, rng)

    per_trial = play_gridworld(params, make, 50, np.random.default_rng(0))
    expected = [known_goal_return(params, goal) for goal in played[0].goals]
    assert per_trial.shape == (4, 50)
    for episode in per_trial:  # every episode alike: nothing left to learn
        assert episode == pytest.approx(expected)


def test_known_goal_return_of_a_two_step_goal() -> None:
    assert known_goal_return(GridworldParams(), 2) == pytest.approx(-0.1 + 14 * 1.0)


# Pinned on 2,000 tasks of seed 0 (`workbench baselines gridworld --tasks 2000 --json`).
PINNED = {
    "known-goal": (44.0764, [11.0191] * 4),
    "systematic-search": (36.5315, [3.8009, 10.6924, 11.0191, 11.0191]),
}


@pytest.mark.parametrize("spec", GRIDWORLD, ids=lambda spec: spec.name)
def test_reference_values_on_fixed_tasks(spec) -> None:
    result = evaluate(get_task("gridworld"), GridworldParams(), spec, NoConfig(), 2000, 0)
    mean, per_trial = PINNED[spec.name]
    assert result.mean == pytest.approx(mean, abs=1e-3)
    assert result.per_trial == pytest.approx(per_trial, abs=1e-3)


def test_search_never_beats_knowing_the_goal_and_finds_it_by_episode_three() -> None:
    family, params = get_task("gridworld"), GridworldParams()
    known, search = (evaluate(family, params, spec, NoConfig(), 500, 7) for spec in GRIDWORLD)
    assert (search.totals <= known.totals + 1e-6).all()
    assert search.per_trial[2] == pytest.approx(known.per_trial[2])
    assert search.per_trial[0] < search.per_trial[1] <= search.per_trial[2]


def test_baselines_cli_lists_both_references(cli) -> None:
    rows = cli.json("baselines", "gridworld", "--tasks", "100")
    assert [row["policy"] for row in rows] == ["known-goal", "systematic-search"]
    assert rows[0]["mean"] > rows[1]["mean"]
