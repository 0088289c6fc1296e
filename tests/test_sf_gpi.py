"""sf-gpi: its config's errors, its two phases' metrics, the regression of w, a population
that computes what its members compute alone, checkpoints that continue, and learning."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import torch

from agents.registry import AGENTS
from agents.sf_gpi import SFGPI, SFGPIConfig, parse_base_tasks
from envs.config import ConfigError, build
from envs.registry import get_task
from envs.scavenger import ScavengerParams
from tests.test_population_q import assert_same_curve, member_curves

SCAVENGER = get_task("scavenger")
ARENA = dict(reward="linear", weights="1,-1", size=6, objects=6)
"""A small arena (5 x 5 room) where episodes collect something within a few steps."""
BUSY = dict(
    learning_starts=200,
    train_frequency=16,
    gradient_steps=4,
    batch_size=32,
    target_update_interval=64,
    buffer_size=10_000,
    eval_interval=400,
    eval_episodes=3,
    pretrain_steps=1200,
    exploration_fraction=0.5,
)
"""Settings that train a lot in a short pre-training, so equal numbers mean equal learning."""
STEPS = 2000
VARIED = [dict(discount=0.9, learning_rate=2.3e-3), dict(discount=0.7, learning_rate=1e-3)]


def population(
    seeds: list[int], varied: list[dict[str, Any]], arena: dict[str, Any] = ARENA, **overrides
) -> SFGPI:
    configs = [SFGPIConfig(**(BUSY | overrides | values)) for values in varied]
    return SFGPI(configs, SCAVENGER, ScavengerParams(**arena), seeds)


# --- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,0;0", "vectors of lengths 1, 2"),
        ("1,x", "does not parse"),
        ("1,0;", "does not parse"),
        ("", "does not parse"),
        ("1,nan", "non-finite"),
    ],
)
def test_base_tasks_that_do_not_parse_are_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build(SFGPIConfig, {"base_tasks": text}, owner="sf-gpi")
    assert "\n" not in str(caught.value)
    assert caught.value.field == "base_tasks"


def test_base_tasks_parse_into_one_row_per_policy() -> None:
    assert parse_base_tasks("1,0;0,1;0.5,-2", 2).tolist() == [[1, 0], [0, 1], [0.5, -2]]


def test_base_tasks_of_the_wrong_length_for_the_task_are_refused_when_built() -> None:
    with pytest.raises(ConfigError, match="length 2, but the task has 3 cumulants"):
        population([0], [{}], ARENA | dict(object_types=3, weights="1,-1,0"))


def test_task_weights_must_be_a_known_choice() -> None:
    with pytest.raises(ConfigError, match="task_weights='learned' is not one of given"):
        build(SFGPIConfig, {"task_weights": "learned"}, owner="sf-gpi")


def test_given_weights_need_a_linear_reward() -> None:
    with pytest.raises(ConfigError, match="reward=linear"):
        population([0], [{}], ARENA | dict(reward="balanced"))
    population([0], [{}], ARENA | dict(reward="balanced"), task_weights="regressed")


def test_a_budget_without_a_target_phase_is_refused() -> None:
    with pytest.raises(ConfigError, match="no target phase"):
        next(population([0], [{}]).learn(BUSY["pretrain_steps"]))


# --- the phases and the regression ---------------------------------------------------------
def test_pretraining_and_the_target_task_log_under_their_own_keys() -> None:
    reports = [r for r in population([3], [{}], task_weights="regressed").learn(STEPS)]
    logged = [(r.step, r.scalars[0]) for r in reports if r.scalars[0]]
    pretrain = set().union(*(s for step, s in logged if step <= BUSY["pretrain_steps"]))
    target = set().union(*(s for step, s in logged if step > BUSY["pretrain_steps"]))
    assert {
        "pretrain/return_task0",
        "pretrain/return_task1",
        "pretrain/sf_loss",
        "pretrain/target_return",
    } <= pretrain
    assert not any(key.startswith(("eval/", "target/", "charts/")) for key in pretrain)
    assert {"eval/episode_return", "target/weights_error", "charts/episode_return"} <= target
    assert not any(key.startswith("pretrain/") for key in target)
    assert logged[-1][0] == STEPS and "eval/episode_return" in logged[-1][1]


def test_regression_recovers_w_from_noisy_rewards_per_member() -> None:
    agent = population([0, 1], [{}, {}], task_weights="regressed")
    assert agent.weights_in_use().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    rng = np.random.default_rng(0)
    phi = rng.random((400, 2))
    members = np.repeat([0, 1], 200)
    true = np.array([[2.0, -0.5], [-1.0, 3.0]])
    rewards = (phi * true[members]).sum(1) + rng.normal(0, 0.01, 400)
    agent.observe_rewards(members, phi, rewards)
    assert agent.weights_in_use() == pytest.approx(true, abs=0.01)


def test_a_regressed_run_ends_with_the_task_weights() -> None:
    reports = list(population([2], [{}], task_weights="regressed").learn(STEPS))
    errors = [
        r.scalars[0]["target/weights_error"]
        for r in reports
        if r.scalars[0].get("target/weights_error") is not None
    ]
    assert errors[-1] < 0.01  # both types collected: w-hat = counts / (counts + ridge) * w


# --- populations and checkpoints -------------------------------------------------------------
def test_the_registry_runs_sf_gpi_as_a_population_of_one() -> None:
    spec = AGENTS["sf-gpi"]
    assert spec.population is SFGPI and spec.tasks == ("scavenger",)
    config = SFGPIConfig(**BUSY)
    lone = list(spec.make(config, SCAVENGER, ScavengerParams(**ARENA), 5).learn(STEPS))
    (curve,) = member_curves(list(population([5], [{}]).learn(STEPS)), 1)
    assert_same_curve(curve, [(r.step, r.scalars) for r in lone if r.scalars])


@pytest.mark.parametrize("task_weights", ["given", "regressed"])
def test_each_member_computes_what_it_computes_alone(task_weights: str) -> None:
    seeds = [0, 1]
    together = member_curves(
        list(population(seeds, VARIED, task_weights=task_weights).learn(STEPS)), 2
    )
    for member, seed in enumerate(seeds):
        alone = population([seed], [VARIED[member]], task_weights=task_weights).learn(STEPS)
        assert_same_curve(together[member], member_curves(list(alone), 1)[0])
    losses = [
        [s["pretrain/sf_loss"] for _, s in curve if "pretrain/sf_loss" in s] for curve in together
    ]
    assert losses[0][-1] != losses[1][-1]  # the members did learn differently


@pytest.mark.parametrize("stop_at", [900, 1500])  # in pre-training, in the target phase
def test_a_member_checkpoint_continues_alone_as_in_its_population(stop_at: int) -> None:
    seeds = [4, 7]
    pop = population(seeds, VARIED, task_weights="regressed")
    for report in pop.learn(STEPS):
        if report.step >= stop_at and not report.tick:
            break
    buffer = io.BytesIO()
    torch.save(pop.member_state(1), buffer)
    buffer.seek(0)
    alone = population([seeds[1]], [VARIED[1]], task_weights="regressed")
    alone.load_member_state(0, torch.load(buffer, weights_only=True))
    assert alone.steps_done == pop.steps_done
    assert alone.weights_in_use()[0] == pytest.approx(pop.weights_in_use()[1])
    assert_same_curve(
        member_curves(list(alone.learn(STEPS)), 1)[0],
        member_curves(list(pop.learn(STEPS)), 2)[1],
    )


def test_the_replay_keeps_each_transitions_cumulants_through_a_checkpoint() -> None:
    from agents.common.replay import StackedReplay

    buffer = StackedReplay(2, 8, (3,), cumulant_size=2)
    observations = np.arange(12, dtype=np.float64).reshape(4, 3)
    phi = np.array([[1, 0], [0, 1], [0, 0], [1, 0]], dtype=np.float64)
    buffer.add(
        np.array([0, 0, 1, 1]),
        observations,
        np.arange(4),
        np.ones(4),
        observations,
        np.ones(4),
        phi,
    )
    batch = buffer.gather(np.array([[1, 0], [1, 0]]))
    assert batch.cumulants.tolist() == [[[0, 1], [1, 0]], [[1, 0], [0, 0]]]
    copy = StackedReplay(1, 8, (3,), cumulant_size=2)
    copy.load_member_state(0, buffer.member_state(1))
    assert copy.member_state(0)["cumulants"].tolist() == [[0, 0], [1, 0]]
    with pytest.raises(ValueError, match="2 cumulants"):
        buffer.add(
            np.array([0]), observations[:1], np.zeros(1), np.ones(1), observations[:1], np.ones(1)
        )


# --- learning ------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("task_weights", ["given", "regressed"])
def test_gpi_over_the_base_policies_transfers_to_a_task_with_a_negative_weight(
    task_weights: str,
) -> None:
    """w = (1, -1) in a 5 x 5 room with 6 objects, after 8,000 steps of pre-training on
    (1, 0) and (0, 1): random play returns 0.24 there, nearest-object 0.08 and
    nearest-positive 1.38 (`workbench baselines scavenger`, 200 layouts). Measured on seeds
    0-7 (given): members end at 0.86-1.82 over 50 greedy episodes, mean 1.25."""
    torch.set_num_threads(1)
    config = SFGPIConfig(
        pretrain_steps=8000,
        discount=0.9,  # with 64 units: what the thresholds were measured with
        hidden_size=64,
        eval_interval=8000,
        eval_episodes=50,
        task_weights=task_weights,
    )
    agent = SFGPI([config] * 4, SCAVENGER, ScavengerParams(**ARENA), [0, 1, 2, 3])
    reports = [r for r in agent.learn(9000) if not r.tick]
    finals = np.array([scalars["eval/episode_return"] for scalars in reports[-1].scalars])
    assert finals.mean() >= 0.9 and finals.min() >= 0.5, finals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "base_tasks=1,0,0;0,1,0", "--task-set", "reward=linear"],
            "base_tasks='1,0,0;0,1,0' has vectors of length 3, but the task has 2 cumulants",
        ),
        (["--set", "base_tasks=1,0;0"], "base_tasks='1,0;0' has vectors of lengths 1, 2"),
        (["--task-set", "reward=balanced"], "task_weights=given needs a reward linear in phi"),
        (
            ["--task-set", "reward=linear", "--steps", "1000"],
            "a budget of 1000 env steps leaves no target phase after pretrain_steps=300000",
        ),
        (
            ["--task-set", "reward=linear", "--task-set", "weights=1,-1,0"],
            "weights='1,-1,0' has 3 values, expected one per object type (2)",
        ),
    ],
)
def test_bad_settings_are_one_line_exit_2_and_create_nothing(cli, args, message) -> None:
    """Issue 14, criterion 6, on the CLI: refused before any run exists (lone and
    population alike)."""
    for population in ([], ["--seeds", "0-1"]):
        steps = [] if "--steps" in args else ["--steps", "400000"]
        result = cli("run", "sf-gpi", "scavenger", *steps, *args, *population)
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "No runs yet" in cli("runs", "ls").output


def test_a_study_of_a_config_that_cannot_fit_the_task_is_refused(cli) -> None:
    result = cli(
        "study", "create", "sf", "--agent", "sf-gpi", "--task", "scavenger", "--method",
        "grid", "--trials", "2", "--steps", "1000", "--param", "discount=0.7:0.9",
        "--task-set", "reward=linear",
    )  # fmt: skip
    assert result.exit_code == 2 and "leaves no target phase" in result.output


# --- the learned discount --------------------------------------------------------------------
LEARNED = dict(learn_discount=True, meta_learning_rate=0.01, meta_batch_size=64)
"""A discount that moves visibly in BUSY's 1,200 steps of pre-training."""


def discount_curve(reports, member: int = 0) -> list[tuple[int, float]]:
    return [
        (r.step, r.scalars[member]["meta/discount"])
        for r in reports
        if "meta/discount" in r.scalars[member]
    ]


def test_a_learned_discount_moves_in_pretraining_and_is_frozen_after() -> None:
    agent = population([3], [{}], **LEARNED)
    reports = [r for r in agent.learn(STEPS) if not r.tick]
    bursts = [r.step for r in reports if "pretrain/sf_loss" in r.scalars[0]]
    curve = discount_curve(reports)
    assert [step for step, _ in curve] == bursts  # logged with every burst, only those
    assert bursts and bursts[-1] <= BUSY["pretrain_steps"]
    gammas = [gamma for _, gamma in curve]
    assert len(set(gammas)) > len(gammas) // 2 and abs(gammas[-1] - 0.8) > 1e-3
    assert any("meta/gradient" in r.scalars[0] for r in reports)
    assert agent.meta is not None and agent.meta.discount.values() == [gammas[-1]]
    target = [r.scalars[0] for r in reports if r.step > BUSY["pretrain_steps"]]
    assert target and not any(key.startswith("meta/") for s in target for key in s)


def test_a_fixed_discount_logs_no_meta_metrics_and_saves_no_meta_state() -> None:
    agent = population([3], [{}])
    assert not any(discount_curve(list(agent.learn(STEPS))))
    assert "meta_episodes" not in agent.member_state(0) and agent.meta is None


def test_each_member_learns_the_discount_it_learns_alone() -> None:
    seeds = [0, 1]
    varied = [VARIED[0] | {"meta_learning_rate": 0.01}, VARIED[1] | {"temperature": 0.5}]
    together = population(seeds, varied, **LEARNED).learn(STEPS)
    curves = member_curves(list(together), 2)
    for member, seed in enumerate(seeds):
        alone = population([seed], [varied[member]], **LEARNED).learn(STEPS)
        assert_same_curve(curves[member], member_curves(list(alone), 1)[0])
    finals = [
        [s["meta/discount"] for _, s in curve if "meta/discount" in s][-1] for curve in curves
    ]
    assert finals[0] != finals[1]


def test_a_learned_discount_checkpoint_continues_alone_as_in_its_population() -> None:
    seeds, varied = [4, 7], [{**VARIED[0], **LEARNED}, {**VARIED[1], **LEARNED}]
    pop = population(seeds, varied)
    for report in pop.learn(STEPS):
        if report.step >= 900 and not report.tick:
            break
    buffer = io.BytesIO()
    torch.save(pop.member_state(1), buffer)
    buffer.seek(0)
    alone = population([seeds[1]], [varied[1]])
    alone.load_member_state(0, torch.load(buffer, weights_only=True))
    assert alone.meta is not None and pop.meta is not None
    assert alone.meta.discount.values() == [pop.meta.discount.values()[1]]
    assert_same_curve(
        member_curves(list(alone.learn(STEPS)), 1)[0],
        member_curves(list(pop.learn(STEPS)), 2)[1],
    )


def test_a_meta_gradient_study_of_sf_gpi_needs_learn_discount(cli) -> None:
    args = ["study", "create", "mg", "--agent", "sf-gpi", "--task", "scavenger"]
    args += ["--method", "meta-gradient", "--trials", "1", "--steps", str(STEPS)]
    args += ["--task-set", "reward=linear", "--task-set", "weights=1,-1"]
    args += ["--task-set", "size=6", "--task-set", "objects=6"]
    for key, value in BUSY.items():
        args += ["--set", f"{key}={value}"]
    refused = cli(*args)
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert "sf-gpi with --set learn_discount=true" in refused.output
    assert cli(*args, "--set", "learn_discount=false").exit_code == 2
    created = cli(*args, *(f"--set={key}={value}" for key, value in LEARNED.items()))
    assert created.exit_code == 0, created.output
    assert cli("study", "run", "mg").exit_code == 0
    learned = cli.json("study", "show", "mg")["best_discount"]
    (run,) = cli.json("runs", "ls")
    assert learned is not None and abs(learned - 0.8) > 1e-3, learned
    assert run["status"] == "completed"
