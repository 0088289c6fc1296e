"""The evaluation splits of contextual RL (envs/splits.py): each split draws from the
region its docstring names, the regions that must be disjoint are, finite training sets,
one-factor refusals, and stored runs restored with the box they trained on."""

from __future__ import annotations

import re

import numpy as np
import pytest

from agents.common.contexts import evaluate_split
from envs.config import ConfigError, build, restore
from envs.control import CartPoleParams, MountainCarParams
from envs.registry import get_task
from envs.splits import SPLITS

DRAWS = 4000


def draws(params, split: str, seed: int = 0) -> np.ndarray:
    """``[DRAWS, k]`` contexts of the varied factors."""
    return params.draw(np.random.default_rng(seed), DRAWS, split).T


def in_training_region(x: np.ndarray, params) -> np.ndarray:
    low, lc, mid = params.context_low, params.lower_constraint, params.mid
    return ((x >= low) & (x < mid)).all(axis=1) & (x < lc).any(axis=1)


@pytest.mark.parametrize("varied", ["", "gravity,length"])
def test_every_split_draws_from_the_region_its_docstring_names(varied) -> None:
    params = CartPoleParams(varied=varied)
    low, lc, mid, high = (
        params.context_low,
        params.lower_constraint,
        params.mid,
        params.context_high,
    )
    assert (low, lc, mid, high) == pytest.approx((0.2, 1.0, 1.8, 2.2))  # CartPoleFamily's doc
    assert "lower_constraint 1.0, mid 1.8" in " ".join(get_task("cartpole").__doc__.split())
    k = len(params.varied_factors)
    assert k == (3 if not varied else 2)

    train = draws(params, "train")
    assert in_training_region(train, params).all()
    # The whole L, not only its strips: a factor reaches the corner [lc, mid) and the top
    # of [low, mid) whenever another lies below lc.
    assert (train >= lc).any(axis=0).all() and (train.max(axis=0) > mid - 0.05).all()
    assert (train.min(axis=0) < low + 0.05).all()

    combinatorial = draws(params, "combinatorial")
    assert ((combinatorial >= lc) & (combinatorial < mid)).all()
    assert not in_training_region(combinatorial, params).any()  # disjoint from training

    single = draws(params, "extrapolation-single")
    above = single >= mid
    assert (above.sum(axis=1) == 1).all() and (single < high).all() and (single >= low).all()
    share = above.mean(axis=0)  # which factor extrapolates is drawn uniformly
    assert np.allclose(share, 1 / k, atol=0.04)

    extrapolated = draws(params, "extrapolation-all")
    assert ((extrapolated >= mid) & (extrapolated < high)).all()
    assert np.array_equal(extrapolated, draws(params, "test"))  # test is its old name

    everything = draws(params, "all")
    assert ((everything >= low) & (everything < high)).all()
    # Every part of the full box is reached: training, corner and extrapolation.
    assert in_training_region(everything, params).any()
    assert ((everything >= lc) & (everything < mid)).all(axis=1).any()
    assert (everything >= mid).all(axis=1).any()

    # Pairwise: the held-out splits never draw a training-region context, and the two
    # extrapolations never meet.
    for held_out in (combinatorial, single, extrapolated):
        assert not in_training_region(held_out, params).any()
    assert not (single >= mid).all(axis=1).any()


def test_a_finite_training_set_is_drawn_once_and_interpolation_avoids_it() -> None:
    params = CartPoleParams(resample=True, train_contexts=6, context_seed=11)
    contexts = params.training_contexts()
    assert contexts.shape == (3, 6) and len({tuple(c) for c in contexts.T}) == 6
    assert in_training_region(contexts.T, params).all()
    assert np.array_equal(
        contexts, CartPoleParams(train_contexts=6, context_seed=11).training_contexts()
    )
    assert not np.array_equal(contexts, params.replace(context_seed=12).training_contexts())

    # Training picks one of the six at each reset, whatever the env's seed.
    env = get_task("cartpole").make_vector_env(params, 16)
    env.reset(seed=5)
    seen = set()
    for step in range(300):
        env.step(np.full(16, step % 2))
        seen |= {tuple(row) for row in np.stack([env.factors[n] for n in params.factor_names], 1)}
    assert seen <= {tuple(c) for c in contexts.T} and len(seen) == 6

    # Evaluating train goes through the six in order; interpolation draws new ones, even
    # from a generator that would replay the training draw exactly.
    evaluated = params.split_contexts("train", 12, np.random.default_rng(0))
    assert np.array_equal(evaluated, np.concatenate([contexts.T, contexts.T]))
    replay = params.draw(np.random.default_rng(11), 6, "interpolation").T
    assert in_training_region(replay, params).all()
    assert not ({tuple(c) for c in replay} & {tuple(c) for c in contexts.T})


def test_split_contexts_keep_the_factors_not_varied_at_their_fixed_values() -> None:
    params = CartPoleParams(varied="length", tau=1.3)
    contexts = params.split_contexts("extrapolation-all", 50, np.random.default_rng(1))
    assert contexts.shape == (50, 3)
    assert (contexts[:, 0] == 1.0).all() and (contexts[:, 2] == 1.3).all()
    assert (contexts[:, 1] >= params.mid).all()


ONE_FACTOR = ["mountaincar", "pendulum", "lunarlander"]


@pytest.mark.parametrize("task", ONE_FACTOR)
@pytest.mark.parametrize("split", ["combinatorial", "extrapolation-single"])
def test_one_factor_families_refuse_the_splits_that_combine_factors(task, split) -> None:
    params = get_task(task).Params()
    message = f"split {split!r} needs two or more varied factors"
    with pytest.raises(ConfigError, match=re.escape(message)):
        params.check_split(split)
    with pytest.raises(ConfigError, match=re.escape(message)):
        build(get_task(task).Params, {"split": split}, owner=task)
    with pytest.raises(ConfigError, match="needs two or more varied factors"):
        CartPoleParams(varied="gravity").check_split(split)


def test_one_factor_training_region_is_the_whole_train_range() -> None:
    """With one factor there is no combination to hold out, so seen_fraction is unused."""
    params = MountainCarParams()
    train = draws(params, "train")
    assert ((train >= 0.2) & (train < params.mid)).all() and train.max() > params.mid - 0.05


def test_bad_split_settings_are_one_line() -> None:
    with pytest.raises(ConfigError, match="is empty with seen_fraction=1"):
        CartPoleParams(seen_fraction=1.0).check_split("combinatorial")
    with pytest.raises(ConfigError, match=r"varied='gravity,mass': mass is not a factor"):
        CartPoleParams(varied="gravity,mass")
    with pytest.raises(ConfigError, match="split 'held-out' is not one of train, interpolation"):
        CartPoleParams().check_split("held-out")
    assert SPLITS[:5] == (
        "train",
        "interpolation",
        "combinatorial",
        "extrapolation-single",
        "extrapolation-all",
    )


OLD_RUN = {  # a cartpole run's task parameters as stored before the splits existed
    "resample": True,
    "split": "train",
    "context_low": 0.2,
    "context_high": 2.2,
    "test_fraction": 0.2,
    "visible_context": False,
    "gravity": 1.0,
    "length": 1.0,
    "tau": 1.0,
}


def test_a_run_stored_before_the_splits_restores_the_box_it_trained_on() -> None:
    from workbench.runner import make_agent

    old = restore(CartPoleParams, OLD_RUN, owner="cartpole")
    assert old.seen_fraction == 1.0 and old.train_contexts == 0 and old.varied == ""
    # The old draw: every factor uniform on [low, cut), in one (factors, n) draw.
    cut = 2.2 - 0.2 * (2.2 - 0.2)
    expected = np.random.default_rng(4).uniform(0.2, cut, (3, 500))
    assert np.array_equal(old.draw(np.random.default_rng(4), 500), expected)
    # A new run with the same values trains on the L-shaped region instead.
    new = build(CartPoleParams, OLD_RUN, owner="cartpole")
    assert new.seen_fraction == 0.5
    assert not np.array_equal(new.draw(np.random.default_rng(4), 500), expected)
    # The runner rebuilds a stored run's agent from the restored parameters.
    agent = make_agent("dqn", "cartpole", {}, OLD_RUN, 0)
    assert agent.population.task_params.seen_fraction == 1.0


def test_context_envs_hold_each_env_at_its_context() -> None:
    for task in ("cartpole", "mountaincar"):
        family = get_task(task)
        params = family.Params(resample=True)  # an evaluation holds contexts regardless
        contexts = params.split_contexts("all", 5, np.random.default_rng(2))
        env = family.make_context_envs(params, contexts)
        env.reset(seed=0)
        for _ in range(250):
            env.step(np.zeros(5, dtype=int))
        if task == "cartpole":
            assert np.array_equal(env.gravity, 9.8 * contexts[:, 0])
        else:
            gravity = [e.unwrapped.gravity for e in env.envs]
            assert np.allclose(gravity, 0.0025 * contexts[:, 0])


def test_evaluate_split_summarises_over_contexts_with_the_share_solved() -> None:
    """A policy that pushes one way falls in a few steps everywhere: nothing is solved,
    and every context's return is its episode's length."""
    family = get_task("cartpole")
    result = evaluate_split(
        family,
        CartPoleParams(),
        "extrapolation-single",
        lambda obs: np.zeros(len(obs), dtype=int),
        contexts=8,
        episodes=2,
        seed=3,
    )
    assert result.returns.shape == (8, 2) and result.solved == 0.0
    assert result.mean == pytest.approx(result.returns.mean())
    assert (result.returns >= 1).all() and (result.returns < 60).all()
    assert ((result.contexts >= CartPoleParams().mid).sum(axis=1) == 1).all()
    assert result.to_json()["solved_threshold"] == 195.0
