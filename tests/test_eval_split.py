"""``workbench eval RUN --split NAME``: a single-task run's greedy policy on contexts of an
evaluation split, its numbers from the run's checkpoint, and every refusal one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from envs.control import CartPoleParams
from tests.test_cli import TINY as CLI_TINY
from workbench.store import Store

TINY = [*CLI_TINY, "--task-set", "resample=true", "--task-set", "train_contexts=4"]


def plain_gymnasium_returns(act, contexts: list[dict], seed: int) -> list[float]:
    """Each context's greedy episode in gymnasium's own vector CartPole, its constants set
    by hand: the same physics with none of our env code."""
    env = CartPoleVectorEnv(num_envs=len(contexts))
    env.gravity = 9.8 * np.array([c["gravity"] for c in contexts])
    env.length = 0.5 * np.array([c["length"] for c in contexts])
    env.polemass_length = env.masspole * env.length
    env.tau = 0.02 * np.array([c["tau"] for c in contexts])
    observations, _ = env.reset(seed=seed)
    returns, running = np.zeros(len(contexts)), np.ones(len(contexts), dtype=bool)
    while running.any():
        observations, rewards, terminated, truncated, _ = env.step(act(observations))
        returns += rewards * running
        running &= ~(terminated | truncated)
    return returns.tolist()


def test_eval_split_plays_the_checkpoint_on_the_splits_contexts(cli, home: Path) -> None:
    from workbench.runner import load_trained

    assert cli("run", "dqn", "cartpole", *TINY, "--seed", "2").exit_code == 0
    result = cli.json(
        "eval", "1", "--split", "extrapolation-single", "--contexts", "6", "--seed", "7"
    )
    assert (result["run"], result["split"], result["contexts"]) == (1, "extrapolation-single", 6)
    contexts = result["per_context"]
    mid = CartPoleParams().mid
    assert all(sum(c[n] >= mid for n in ("gravity", "length", "tau")) == 1 for c in contexts)
    store = Store(home)
    agent = load_trained(store, store.get_run(1))
    expected = plain_gymnasium_returns(agent.population.greedy_actions, contexts, seed=7)
    assert [c["return"] for c in contexts] == expected
    assert result["mean"] == pytest.approx(np.mean(expected))
    assert result["solved"] == np.mean(np.array(expected) >= 195)
    assert result["solved_threshold"] == 195

    # train: the run's four training contexts in order, then the first again.
    trained = cli.json("eval", "1", "--split", "train", "--contexts", "5", "--seed", "7")
    factors = [(c["gravity"], c["length"], c["tau"]) for c in trained["per_context"]]
    assert len(set(factors)) == 4 and factors[4] == factors[0]
    training = CartPoleParams(train_contexts=4).training_contexts().T
    assert np.array_equal(np.array(factors[:4]), training)

    shown = cli("eval", "1", "--split", "all", "--contexts", "4", "--checkpoint", "best")
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert "split all, 4 contexts: mean return" in text and "solved" in text
    assert "(return ≥ 195)" in text and "best checkpoint" in text


def one_line_refusal(cli, *args: str) -> str:
    result = cli("eval", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.output
    return result.stderr


@pytest.fixture
def stored(home: Path) -> Store:
    """Runs that were never trained: every refusal comes before a checkpoint is read."""
    store = Store(home)
    new_cartpole = CartPoleParams().to_dict()
    for agent, task, params in (
        ("dqn", "cartpole", new_cartpole),
        ("dqn", "mountaincar", {}),
        ("dqn", "foraging", {}),
        ("rl2", "bandit", {}),
        ("dqn", "cartpole", {}),  # stored before the splits: trained on the whole box
    ):
        store.create_run(
            agent=agent, task=task, config={}, task_params=params, seed=0, total_steps=9
        )
    return store


def test_eval_split_refusals_are_one_line(cli, stored) -> None:
    assert "--split 'held-out': run 1's cartpole defines train, interpolation, combinatorial" in (
        one_line_refusal(cli, "1", "--split", "held-out")
    )
    assert "run 2's mountaincar defines train, interpolation, extrapolation-all, test, all" in (
        one_line_refusal(cli, "2", "--split", "sideways")
    )
    refused = one_line_refusal(cli, "2", "--split", "combinatorial")
    assert "split 'combinatorial' needs two or more varied factors" in refused
    assert "varies only gravity" in refused
    assert "single" in one_line_refusal(cli, "2", "--split", "extrapolation-single")
    assert "task foraging of run 3 has no context factors" in one_line_refusal(
        cli, "3", "--split", "train"
    )
    assert "run 4 is a meta-RL run (rl2 on bandit)" in one_line_refusal(
        cli, "4", "--split", "train"
    )
    refused = one_line_refusal(cli, "5", "--split", "combinatorial")
    assert "split 'combinatorial' is empty with seen_fraction=1" in refused
    assert "--contexts must be 2 to" in one_line_refusal(
        cli, "1", "--split", "train", "--contexts", "1"
    )
    assert "--per-trial is for meta-RL runs" in one_line_refusal(
        cli, "1", "--split", "train", "--per-trial"
    )
    # A single-task run without --split is pointed to it.
    assert "evaluated with --split NAME" in one_line_refusal(cli, "1")
