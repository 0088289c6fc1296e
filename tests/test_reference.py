"""Reference policies: exact DP against brute force, Gittins indices, and RL^2's Table 1."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from agents.reference import BayesOptimalPolicy, evaluate, play_bandit, policies_for
from agents.reference.bayes_optimal import (
    TooLarge,
    dependent_value,
    exact_value,
    k_arm_value,
    two_arm_tables,
)
from agents.reference.gittins import gittins_table
from envs.registry import get_task

GRID = (np.arange(4000) + 0.5) / 4000  # midpoint quadrature of a uniform prior on [0, 1]


def brute_force_value(arms: int, pulls: int, prior_support=None, dependent=False) -> float:
    """Expectimax over raw histories, with predictive probabilities by numerical integration.

    Shares nothing with the DP: no sufficient statistics, no Beta formulas. Each arm's
    probability lives on a grid (independent arms) or p2 = 1 - p1 (dependent arms).
    """
    if dependent:
        p1 = GRID if prior_support is None else np.asarray(prior_support)
        grids = [np.stack([p1, 1 - p1])]  # one joint grid for both arms
    else:
        grids = [GRID[None, :] for _ in range(arms)]

    def likelihood(history):
        if dependent:
            probs = grids[0]
            weight = np.ones(probs.shape[1])
            for arm, won in history:
                weight = weight * (probs[arm] if won else 1 - probs[arm])
            return [(probs, weight)]
        out = []
        for arm in range(arms):
            weight = np.ones(len(GRID))
            for a, won in history:
                if a == arm:
                    weight = weight * (GRID if won else 1 - GRID)
            out.append((GRID, weight))
        return out

    @functools.cache
    def value(history):
        if len(history) == pulls:
            return 0.0
        posterior = likelihood(history)
        best = -1.0
        for arm in range(arms):
            if dependent:
                probs, weight = posterior[0]
                p = float((probs[arm] * weight).sum() / weight.sum())
            else:
                probs, weight = posterior[arm]
                p = float((probs * weight).sum() / weight.sum())
            q = p * (1 + value(history + ((arm, True),))) + (1 - p) * value(
                history + ((arm, False),)
            )
            best = max(best, q)
        return best

    return value(())


@pytest.mark.parametrize(("arms", "pulls"), [(2, 1), (2, 4), (3, 3), (2, 5)])
def test_independent_dp_matches_brute_force(arms: int, pulls: int) -> None:
    exact = two_arm_tables(pulls)[0] if arms == 2 else k_arm_value(arms, pulls)
    assert exact == pytest.approx(brute_force_value(arms, pulls), abs=1e-5)
    assert k_arm_value(arms, pulls) == pytest.approx(exact, abs=1e-9)  # both DPs agree


@pytest.mark.parametrize("support", [None, (0.1, 0.9), (0.4, 0.6)])
def test_dependent_dp_matches_brute_force(support) -> None:
    expected = brute_force_value(2, 5, prior_support=support, dependent=True)
    assert dependent_value(5, support) == pytest.approx(expected, abs=1e-5)


def test_one_pull_value_is_the_prior_mean() -> None:
    assert two_arm_tables(1)[0] == pytest.approx(0.5)
    assert dependent_value(1, (0.1, 0.9)) == pytest.approx(0.5)


def test_too_large_dp_is_refused_with_a_reason() -> None:
    with pytest.raises(TooLarge, match="5 arms and 100 pulls"):
        k_arm_value(5, 100)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("bandit", {"arms": 2, "pulls": 20}),
        ("bandit", {"arms": 3, "pulls": 6}),
        ("bandit-dependent-hard", {"pulls": 30}),
        ("bandit-dependent-uniform", {"pulls": 30}),
    ],
)
def test_bayes_optimal_policy_achieves_its_exact_value(name, values) -> None:
    family = get_task(name)
    params = family.Params(**values)
    totals = play_bandit(
        family,
        params,
        functools.partial(BayesOptimalPolicy, family, params),
        20_000,
        np.random.default_rng(0),
    ).sum(0)
    se = totals.std() / np.sqrt(len(totals))
    assert abs(totals.mean() - exact_value(family, params)) < 4 * se


def test_no_reference_policy_beats_bayes_optimal() -> None:
    family = get_task("bandit")
    params = family.Params(arms=5, pulls=10)
    exact = exact_value(family, params)
    for spec in policies_for(family):
        result = evaluate(family, params, spec, spec.config(), 20_000, seed=1)
        assert result.mean < exact + 2 * result.ci95 / 1.96 + 1e-9, spec.name


def test_gittins_index_matches_published_values() -> None:
    # Gittins, Glazebrook & Weber (2011), Table 8.1 for discount 0.9: Beta(1,1) 0.7029.
    table = gittins_table(0.9, 5, grid=2001)
    assert table[0, 0] == pytest.approx(0.7029, abs=5e-4)
    assert table[1, 0] > table[0, 0] > table[0, 1]  # a success raises the index
    assert np.all(np.diff(table[0, :5]) < 0) and np.all(np.diff(table[:5, 0]) > 0)


# RL^2 (Duan et al. 2016), Table 1 and Table 2; each cell within 2% (the bar).
PAPER = [
    (
        "bandit",
        {"arms": "5", "pulls": "100"},
        {
            "random": 49.9,
            "gittins": 78.3,
            "thompson": 74.7,
            "ucb1": 78.0,
            "greedy": 74.8,
            "eps-greedy": 75.4,
        },
    ),
    (
        "bandit",
        {"arms": "5", "pulls": "10"},
        {"random": 5.0, "gittins": 6.6, "ucb1": 6.7, "greedy": 6.6, "eps-greedy": 6.6},
    ),
    ("tabular-mdp", {"episodes": "10"}, {"random": 100.1, "psrl": 138.1}),
]


@pytest.mark.parametrize(("task", "values", "paper"), PAPER, ids=lambda x: str(x)[:30])
def test_baselines_match_rl2_tables(cli, task, values, paper) -> None:
    args = [a for key, value in values.items() for a in ("--set", f"{key}={value}")]
    rows = {row["policy"]: row for row in cli.json("baselines", task, *args, "--tasks", "2000")}
    for policy, number in paper.items():
        assert rows[policy]["mean"] == pytest.approx(number, rel=0.02), policy


def test_baselines_json_has_policy_mean_ci_and_params(cli) -> None:
    rows = cli.json(
        "baselines",
        "bandit",
        "--set",
        "arms=5",
        "--set",
        "pulls=10",
        "--tasks",
        "200",
        "--policy-set",
        "ucb1.exploration=0.3",
    )
    by_name = {row["policy"]: row for row in rows}
    assert set(by_name) == {
        "random",
        "greedy",
        "eps-greedy",
        "ucb1",
        "thompson",
        "gittins",
        "bayes-optimal",
    }
    assert by_name["ucb1"]["params"]["exploration"] == 0.3
    assert by_name["bayes-optimal"]["ci95"] == 0 and by_name["bayes-optimal"]["exact"]
    assert all(row["ci95"] > 0 for row in rows if not row["exact"])


def test_baselines_are_paired_on_the_same_tasks(cli) -> None:
    first = cli.json("baselines", "bandit", "--tasks", "300", "--seed", "5", "--policy", "random")
    again = cli.json("baselines", "bandit", "--tasks", "300", "--seed", "5")
    assert first[0]["mean"] == next(r for r in again if r["policy"] == "random")["mean"]


BAD = [
    (["baselines", "cartpole"], "no reference policies act on 'cartpole'"),
    (["baselines", "bandit", "--policy", "ucb"], "no policy 'ucb' for bandit (did you mean ucb1"),
    (["baselines", "bandit", "--policy-set", "ucb1.c=2"], "unknown config key 'c' for ucb1"),
    (["baselines", "bandit", "--policy-set", "psrl.epsilon=2"], "write policy.key=value"),
    (["baselines", "bandit", "--set", "arms=0"], "arms=0 is out of range"),
    (["baselines", "bandit", "--set", "pulls=-3"], "pulls=-3 is out of range"),
    (
        ["baselines", "bandit", "--set", "arms=2", "--set", "probs=0.2,1.2"],
        "every probability must lie in [0, 1]",
    ),
    (["baselines", "bandit", "--set", "colour=red"], "unknown config key 'colour' for bandit"),
    (["baselines", "tabular-mdp", "--tasks", "1"], "--tasks must be at least 2"),
    (
        ["run", "dqn", "cartpole", "--task-set", "context_low=2", "--task-set", "context_high=1"],
        "empty or inverted",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=lambda x: " ".join(x)[:40])
def test_bad_baselines_input_is_one_line_exit_2(cli, args, message) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_every_json_row_is_serialisable(cli) -> None:
    rows = cli.json("baselines", "tabular-mdp", "--set", "episodes=2", "--tasks", "50")
    assert json.loads(json.dumps(rows)) == rows
    assert {row["policy"] for row in rows} == {
        "random",
        "greedy",
        "eps-greedy",
        "psrl",
        "value-iteration",
    }
