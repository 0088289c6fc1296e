"""The continual families and learners: La-MAML's learned rates (their sign and their
clipping at zero), the stream, checkpoints, `report continual`, ER against online SGD,
and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents.common.continual import ContinualConfig, bti, forward, init_network
from agents.common.look_ahead import init_rates, look_ahead_loss
from agents.la_maml import la_maml_step
from agents.registry import get_agent
from envs.config import ConfigError, build
from envs.continual import RotatedDigits, distinct_rotations, rotation_map
from envs.registry import get_task

TINY = {"num_tasks": "3", "samples_per_task": "40"}
"""A stream small enough for a test: 3 tasks of 40 samples (4 batches each)."""


def small_net(seed: int = 0) -> list[torch.Tensor]:
    return init_network(ContinualConfig(hidden_size=8, hidden_layers=1), torch.manual_seed(seed))


def bias_rate_after(
    steps: int, inner_label: int, meta_label: int, lr_rates: float = 0.02
) -> tuple[list, list]:
    """The output-bias rates and weights after ``steps`` La-MAML updates whose inner sample
    and meta-batch are the same image with the given labels."""
    params = small_net()
    rates = init_rates(params, 0.05)
    x = torch.rand(1, 64, generator=torch.manual_seed(1))
    history, biases = [rates[-1].detach().clone()], [params[-1].detach().clone()]
    for _ in range(steps):
        loss = look_ahead_loss(
            params, rates, x, torch.tensor([inner_label]), x, torch.tensor([meta_label]), 100.0
        )
        la_maml_step(params, rates, loss, lr_rates, clip=100.0)
        history.append(rates[-1].detach().clone())
        biases.append(params[-1].detach().clone())
    return history, biases


def test_a_rate_rises_while_the_inner_and_meta_gradients_agree() -> None:
    # Output bias k: inner gradient p_k - 1 and meta gradient p'_k - 1 (same label k) are
    # both negative every step, so d L_meta / d alpha_k = -(p_k - 1)(p'_k - 1) < 0.
    history, _ = bias_rate_after(5, inner_label=3, meta_label=3)
    rates = [float(r[3]) for r in history]
    assert all(b > a for a, b in zip(rates, rates[1:], strict=False)), rates


def test_a_rate_falls_to_zero_and_its_weight_stops_while_the_gradients_conflict() -> None:
    # Inner label 3, meta label 5: bias 3's inner gradient p_3 - 1 < 0, its meta gradient
    # p'_3 > 0, so its rate falls every step until it is clipped at zero.
    history, biases = bias_rate_after(40, inner_label=3, meta_label=5, lr_rates=0.1)
    rates = [float(r[3]) for r in history]
    first_negative = next(i for i, rate in enumerate(rates) if rate <= 0)
    falling = rates[: first_negative + 1]
    assert all(b < a for a, b in zip(falling, falling[1:], strict=False)), rates
    # At or below zero the rate gets no gradient and gates the weight shut: relu(alpha) = 0.
    assert rates[-1] == rates[first_negative]
    assert float(biases[-1][3]) == float(biases[first_negative][3])
    assert float(biases[first_negative][3]) != float(biases[0][3])


def test_negative_rates_move_nothing_neither_inner_nor_outer_steps() -> None:
    params = small_net()
    before = [p.detach().clone() for p in params]
    rates = init_rates(params, -0.5)
    x, y = torch.rand(4, 64), torch.tensor([0, 1, 2, 3])
    loss = look_ahead_loss(params, rates, x, y, x, y, 2.0)
    la_maml_step(params, rates, loss, lr_rates=1e-6, clip=2.0)
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    positive = init_rates(params, 0.1)
    la_maml_step(params, positive, look_ahead_loss(params, positive, x, y, x, y, 2.0), 1e-6, 2.0)
    assert not all(torch.equal(p, b) for p, b in zip(params, before, strict=True))


def test_bti_is_the_mean_change_since_each_task_was_learnt() -> None:
    matrix = [[0.9], [0.7, 0.8], [0.5, 0.6, 0.9]]
    assert bti(matrix) == pytest.approx(((0.5 - 0.9) + (0.6 - 0.8) + 0.0) / 3)


def test_rotations_are_pixel_maps_and_their_count_is_bounded() -> None:
    assert np.array_equal(rotation_map(0.0), np.arange(64))
    assert sorted(rotation_map(180.0)) == list(range(64))  # a half turn permutes the pixels
    most = distinct_rotations(180)
    assert 1 < most < 180
    RotatedDigits.Params(num_tasks=most)
    with pytest.raises(ConfigError, match=f"at most {most} distinct tasks"):
        RotatedDigits.Params(num_tasks=most + 1)


def test_the_stream_is_the_same_for_a_seed_and_differs_across_seeds() -> None:
    family = get_task("digits-permuted")
    params = build(family.Params, TINY, owner="digits-permuted")
    a, b, c = family.stream(params, 0), family.stream(params, 0), family.stream(params, 1)
    assert np.array_equal(a[2].x_train, b[2].x_train)
    assert not np.array_equal(a[2].x_train, c[2].x_train)
    assert a[0].x_test.shape == (params.test_size, 64)
    assert not np.array_equal(a[0].x_test, a[1].x_test)  # another permutation per task


def make(agent: str, seed: int = 0, **overrides: str):
    spec, family = get_agent(agent), get_task("digits-permuted")
    config = build(spec.config, {"hidden_size": "16", **overrides}, owner=agent)
    return spec.make(config, family, build(family.Params, TINY, owner="x"), seed)


@pytest.mark.parametrize("agent", ["online-sgd", "er", "c-maml", "sync", "la-maml"])
def test_a_learner_reports_each_task_and_resumes_from_its_checkpoint(agent: str) -> None:
    whole = [r for r in make(agent, glances="2").learn(10**6) if not r.tick]
    assert [r.step for r in whole] == [40, 80, 120]
    assert [len([k for k in r.scalars if k.startswith("continual/task_accuracy/")])
            for r in whole] == [1, 2, 3]  # fmt: skip
    first = make(agent, glances="2")
    next(iter(first.learn(10**6)))  # stops after task 0's report
    state = first.state_dict()
    resumed = make(agent, glances="2")
    resumed.load_state_dict(state)
    rest = [r for r in resumed.learn(10**6) if not r.tick]
    assert rest[-1].scalars == whole[-1].scalars


def test_report_continual_reads_the_runs_it_trained(cli, home: Path) -> None:
    args = ("report", "continual", "digits-permuted", "--learners", "online-sgd,er", "--seeds",
            "0-1", "--task-set", "num_tasks=3", "--task-set", "samples_per_task=40")  # fmt: skip
    report = cli.json(*args)
    assert len(report["trained"]) == 4
    er = report["learners"][1]
    shown = [cli.json("runs", "show", str(run)) for run in er["runs"]]
    stored = [run["summary"]["eval_return_mean"] for run in shown]
    assert er["retained_accuracy"] == pytest.approx(np.mean(stored))
    assert [len(row) for row in report["accuracy_matrix"]] == [1, 2, 3]
    again = cli.json(*args, "--no-train")
    assert again["trained"] == [] and again["learners"] == report["learners"]


@pytest.mark.slow
def test_er_retains_more_than_online_sgd() -> None:
    family = get_task("digits-permuted")
    params = family.Params(num_tasks=8, samples_per_task=300)

    def retained(agent: str, seed: int) -> float:
        spec = get_agent(agent)
        learner = spec.make(spec.config(), family, params, seed)
        return [r for r in learner.learn(10**6) if not r.tick][-1].scalars["eval/retained_accuracy"]

    online = np.mean([retained("online-sgd", seed) for seed in range(3)])
    er = np.mean([retained("er", seed) for seed in range(3)])
    assert er > online + 0.1, (er, online)


BAD = [
    (["run", "er", "cartpole"], "agent 'er' does not support task 'cartpole'"),
    (["run", "dqn", "digits-permuted"], "agent 'dqn' does not support task 'digits-permuted'"),
    (["run", "er", "digits-permuted", "--set", "memory_size=0"], "memory_size=0: er replays"),
    (["run", "la-maml", "digits-rotated", "--set", "memory_size=0"], "memory_size=0: la-maml"),
    (
        ["run", "la-maml", "digits-rotated", "--task-set", "num_tasks=40"],
        "digits-rotated can make at most 22 distinct tasks",
    ),
    (
        ["run", "er", "digits-permuted", "--task-set", "samples_per_task=1500"],
        "samples_per_task=1500 is more than the 1348 training images",
    ),
    (["report", "continual", "cartpole"], "cartpole is not a continual task"),
    (
        ["report", "continual", "digits-permuted", "--learners", "er,ppo"],
        "agent 'ppo' does not support task 'digits-permuted'",
    ),
    (["report", "continual", "digits-permuted", "--seeds", "3-1"], "the range 3-1 goes down"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(cli, home: Path, args, message) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert not (home / "workbench.db").exists() or cli.json("runs", "ls") == []


def test_a_continual_task_has_no_environment() -> None:
    with pytest.raises(ConfigError, match="no environment; train one of the continual"):
        get_task("digits-permuted").make_env(get_task("digits-permuted").Params())


def test_forward_matches_the_layers() -> None:
    params = small_net()
    x = torch.rand(2, 64)
    hidden = torch.relu(x @ params[0].T + params[1])
    assert torch.allclose(forward(params, x), hidden @ params[2].T + params[3])


async def test_the_run_view_of_a_learner_opens_on_its_retained_accuracy(home: Path) -> None:
    from textual.widgets import DataTable

    from workbench.service import runs as run_service
    from workbench.store import Store
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.run_view import RunView

    store = Store(home)
    settings = run_service.check_settings("er", "digits-permuted", task_values=TINY)
    run_id = run_service.create_run(store, settings, steps=10**6)
    assert store.get_run(run_id).total_steps == 120  # the budget is the stream's length
    run_service.train_foreground(store, run_id)
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(160, 40)) as pilot:
        while app.screen.query_one(DataTable).row_count < 1:
            await pilot.pause(0.1)
        await pilot.press("enter")
        while not (isinstance(app.screen, RunView) and app.screen.series):
            await pilot.pause(0.1)
        steps, values = app.screen.series["eval/retained_accuracy"]
        assert steps == [40, 80, 120] and all(0 <= v <= 1 for v in values)
