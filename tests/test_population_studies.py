"""Studies whose lifetimes train as populations: a worker takes up to P queued trials and
trains them as one batched population. A grid's values equal the lone lifetimes', a
Bayesian batch is sampled knowing its members run (P distinct points), a pruned member
stops while the others complete, and a population the study cannot use is refused in
one line."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from textual.widgets import Input, Select

from agents import registry
from envs.config import Config, bounded
from studies import worker
from studies.storage import open_storage
from studies.study import load
from tests.test_population_runs import ScriptedPopulation
from tests.test_tui import until
from tests.test_tui_flows import open_create_study_dialog
from workbench.service import studies as service
from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.studies import StudiesScreen


@dataclass
class ScriptedConfig(Config):
    discount: float = bounded(0.99, 0.0, 1.0, per_member=True)
    """May differ per member, as a real agent's discount."""
    hidden_size: int = bounded(64, 1, 4096)
    """Shared by the members, as a real agent's network size."""


class PrunedAtSeed4(ScriptedPopulation):
    """Every member evaluates 10, except the one of seed 4, which evaluates -100: the
    median pruner prunes that one alone."""

    def scalars(self, member: int, step: int) -> dict[str, float]:
        value = -100.0 if self.seeds[member] == 4 else 10.0
        return {"eval/episode_return": value} if step % 50 == 0 else {}


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    """dqn is a scripted population with a discount that may differ per member and a
    shared hidden size (the runner and the studies read the registry)."""
    spec = dataclasses.replace(
        registry.AGENTS["dqn"], config=ScriptedConfig, population=PrunedAtSeed4
    )
    monkeypatch.setitem(registry.AGENTS, "dqn", spec)


def scripted_study(cli, name: str, *extra: str, trials: int = 6, method: str = "grid"):
    result = cli(
        "study", "create", name, "--agent", "dqn", "--task", "cartpole", "--method", method,
        "--trials", str(trials), "--steps", "200", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def trials_of(home: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    study, _ = load(open_storage(f"sqlite:///{home / 'workbench.db'}"), name)
    return study.get_trials(deepcopy=False)


def test_a_pruned_member_stops_and_the_others_complete(cli, home, store, scripted) -> None:
    scripted_study(cli, "pruned", "--param", "discount=0.9:0.99", "--pruner", "median")
    result = cli("study", "run", "pruned", "--population", "3")
    assert result.exit_code == 0, result.output
    trials = {t.number: t for t in trials_of(home, "pruned")}
    # Trials 0-2 train first, as one population, and complete; in the second population
    # (3-5) the median of the completed ones prunes trial 4 (seed 4) alone.
    states = {n: t.state for n, t in trials.items()}
    assert states == {n: TrialState.PRUNED if n == 4 else TrialState.COMPLETE for n in range(6)}
    runs = {run.trial: run for run in store.study_runs("pruned")}
    assert len({runs[n].population for n in (0, 1, 2)}) == 1
    assert {runs[n].population for n in (3, 4, 5)} == {runs[3].id}
    assert runs[4].status == "stopped" and runs[4].steps_done < 200
    assert all(runs[n].status == "completed" and runs[n].steps_done == 200 for n in (3, 5))
    assert "trial 4: pruned" in result.output


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_a_bayesian_batch_is_sampled_knowing_its_members_run(
    cli, home, store, scripted, monkeypatch, sampler: str
) -> None:
    # Four lifetimes per population: after the first (the random start-up), each later
    # batch is sampled one point after the other while the earlier ones run, which TPE's
    # constant liar counts as bad results and GP's q-batch acquisition conditions on, so
    # the batch does not repeat itself.
    scripted_study(
        cli, "bayes", "--method", "bayes", "--sampler", sampler, "--param",
        "discount=0.9:0.99", trials=12,
    )  # fmt: skip
    sampled_beside: list[int] = []  # running trials with a point, as each is sampled
    suggest_all = worker.suggest_all

    def suggest_counting(trial, spec):
        running = trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        sampled_beside.append(sum("discount" in t.params for t in running))
        return suggest_all(trial, spec)

    monkeypatch.setattr(worker, "suggest_all", suggest_counting)
    assert cli("study", "run", "bayes", "--population", "4").exit_code == 0
    assert sampled_beside == [0, 1, 2, 3] * 3
    trials = trials_of(home, "bayes")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 12
    batches: dict[int, list[float]] = {}
    for run in store.study_runs("bayes"):
        batches.setdefault(run.population, []).append(run.config["discount"])
    assert sorted(map(len, batches.values())) == [4, 4, 4]
    for points in batches.values():
        assert len(set(points)) == 4
    _, spec = load(open_storage(f"sqlite:///{home / 'workbench.db'}"), "bayes")
    if sampler == "tpe":
        assert spec.sampler_for(0)._constant_liar


def test_a_population_over_a_shared_field_is_refused_naming_it(cli, home, scripted) -> None:
    scripted_study(cli, "sizes", "--param", "hidden_size=16:64", trials=2)
    for command in (["run"], ["resume"], ["worker"]):
        result = cli("study", *command, "sizes", "--population", "2")
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert "hidden_size" in result.output and "--population 1" in result.output
    assert all(t.state == TrialState.WAITING for t in trials_of(home, "sizes"))
    refused = cli(
        "study", "create", "sizes2", "--agent", "dqn", "--task", "cartpole", "--method",
        "grid", "--trials", "2", "--steps", "200", "--param", "hidden_size=16:64",
        "--population", "2",
    )  # fmt: skip
    assert refused.exit_code == 2 and "hidden_size" in refused.output


def test_a_population_of_an_agent_with_no_batched_form_is_refused(cli) -> None:
    result = cli(
        "study", "create", "rl2s", "--agent", "rl2", "--task", "bandit", "--method",
        "grid", "--trials", "2", "--steps", "200", "--population", "2",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "rl2 has no batched form" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("size", ["0", "5000"])
def test_a_population_size_out_of_range_is_refused(cli, scripted, size: str) -> None:
    scripted_study(cli, "sized", trials=2)
    result = cli("study", "run", "sized", "--population", size)
    assert result.exit_code == 2 and "give 1 to 4096" in result.output


def test_an_unknown_device_or_a_missing_gpu_is_refused(cli, scripted) -> None:
    scripted_study(cli, "dev", trials=2)
    result = cli("study", "run", "dev", "--device", "tpu")
    assert result.exit_code == 2 and "--device must be auto, cpu or cuda" in result.output
    if not torch.cuda.is_available():
        result = cli("study", "run", "dev", "--device", "cuda")
        assert result.exit_code == 2 and "no CUDA GPU" in result.output


def test_the_study_population_is_its_default_and_not_part_of_what_it_is(
    cli, home, store, scripted
) -> None:
    scripted_study(cli, "dflt", "--param", "discount=0.9:0.99", "--population", "3")
    again = cli(
        "study", "create", "dflt", "--agent", "dqn", "--task", "cartpole", "--method", "grid",
        "--trials", "6", "--steps", "200", "--param", "discount=0.9:0.99",
    )  # fmt: skip
    assert again.exit_code == 0 and "already exists with these settings" in again.output
    assert cli.json("study", "show", "dflt")["population"] == 3
    assert "populations of 3" in cli("study", "show", "dflt").output
    assert cli("study", "run", "dflt").exit_code == 0
    populations = {run.population for run in store.study_runs("dflt")}
    assert len(populations) == 2 and None not in populations
    assert service.study_detail(store, "dflt", curves=False).summary.counts.complete == 6


async def test_the_create_dialog_takes_a_population_size_with_inline_errors(
    home: Path, store: Store, scripted
) -> None:
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await open_create_study_dialog(app, pilot)
        screen = app.screen
        screen.query_one("#study-name", Input).value = "batched"
        screen.query_one("#study-agent", Select).value = "dqn"
        screen.query_one("#study-trials", Input).value = "4"
        for size, error in (("x", "population 'x': give a whole number"), ("0", "give 1 to")):
            screen.query_one("#study-population", Input).value = size
            await pilot.press("ctrl+s")
            await pilot.pause(0.2)
            assert error in str(screen.query_one("#create-error").render())
        screen.query_one("#study-population", Input).value = "4"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
    _, spec = load(open_storage(f"sqlite:///{home / 'workbench.db'}"), "batched")
    assert spec.population == 4


def test_a_grid_trained_as_populations_equals_the_lone_grid(cli, home: Path) -> None:
    """Member m of a population computes what a lone lifetime with m's seed and config
    computes, so a grid's value at each point (same seeds) does not depend on P."""
    values = {}
    for name, population in (("lone", "1"), ("batched", "4")):
        result = cli(
            "study", "create", name, "--agent", "a2c", "--task", "cartpole", "--method",
            "grid", "--trials", "4", "--steps", "2000", "--param", "discount=0.8:0.999",
            "--set", "eval_interval=1000", "--set", "eval_episodes=3",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        result = cli("study", "run", name, "--population", population, "--device", "cpu")
        assert result.exit_code == 0, result.output
        trials = trials_of(home, name)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
        values[name] = {t.params["discount"]: t.value for t in trials}
    assert values["batched"] == pytest.approx(values["lone"], abs=1e-5)
    assert len(set(values["lone"].values())) > 1  # the points differ, so this compares
    with Store(home) as store:
        runs = {name: store.study_runs(name) for name in values}
        assert len({run.population for run in runs["batched"]} - {None}) == 1
        assert {run.population for run in runs["lone"]} == {None}
        curves = {
            name: {run.config["discount"]: store.metrics(run.id) for run in runs[name]}
            for name in values
        }
    for discount, rows in curves["lone"].items():  # every metric row, not only the value
        batched = curves["batched"][discount]
        assert [(key, step) for key, step, _ in batched] == [(key, step) for key, step, _ in rows]
        assert [v for *_, v in batched] == pytest.approx([v for *_, v in rows], abs=1e-5)


@pytest.mark.slow
def test_worker_processes_each_train_populations_of_up_to_p(cli, home: Path) -> None:
    result = cli(
        "study", "create", "w", "--agent", "a2c", "--task", "chain", "--task-set", "length=5",
        "--method", "grid", "--trials", "6", "--steps", "3000", "--set", "eval_interval=1000",
        "--set", "eval_episodes=5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    env = {**os.environ, "WORKBENCH_TRIAL_HEARTBEAT_SECONDS": "1"}
    command = [sys.executable, "-m", "workbench", "--home", str(home), "study", "run", "w"]
    done = subprocess.run(
        [*command, "--workers", "2", "--population", "2"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    trials = trials_of(home, "w")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    with Store(home) as store:
        runs = store.study_runs("w")
    assert sorted(run.trial for run in runs) == list(range(6))  # each grid point once
    members: dict[int | None, int] = {}
    for run in runs:
        members[run.population] = members.get(run.population, 0) + 1
    batched = [size for population, size in members.items() if population is not None]
    assert batched and all(size == 2 for size in batched)  # a lone one: a batch of one


def test_a_meta_gradient_study_trains_its_seeds_as_one_population(cli, home: Path) -> None:
    """The meta-gradient method trains one config over seeds: a population of seeds, each
    member learning its own discount as its lone lifetime would."""
    learned = {}
    for name, population in (("mg-lone", "1"), ("mg-batched", "3")):
        result = cli(
            "study", "create", name, "--agent", "mg-a2c", "--task", "chain", "--task-set",
            "length=5", "--method", "meta-gradient", "--trials", "3", "--steps", "1500",
            "--set", "eval_interval=500", "--set", "eval_episodes=3",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        result = cli("study", "run", name, "--population", population)
        assert result.exit_code == 0, result.output
        trials = trials_of(home, name)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
        learned[name] = [(t.user_attrs["seed"], t.value, t.user_attrs["discount"]) for t in trials]
    assert learned["mg-batched"] == pytest.approx(learned["mg-lone"], abs=1e-5)
    assert len({discount for *_, discount in learned["mg-lone"]}) == 3  # each its own
    with Store(home) as store:
        assert len({run.population for run in store.study_runs("mg-batched")}) == 1


def test_compare_trains_the_fresh_lifetimes_as_one_population(cli, home: Path) -> None:
    rows = {}
    for group, population in (("lone", "1"), ("batched", "3")):
        result = cli(
            "study", "create", f"search-{group}", "--agent", "a2c", "--task", "chain",
            "--task-set", "length=5", "--method", "grid", "--trials", "2", "--steps", "2000",
            "--set", "eval_interval=1000", "--set", "eval_episodes=5", "--group", group,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert cli("study", "run", f"search-{group}").exit_code == 0
        (rows[group],) = cli.json(
            "study", "compare", group, "--lifetimes", "3", "--population", population
        )
    assert rows["batched"]["fresh_lifetimes"] == rows["lone"]["fresh_lifetimes"] == 3
    assert rows["batched"]["return_mean"] == pytest.approx(rows["lone"]["return_mean"], abs=1e-5)
    with Store(home) as store:
        fresh = {
            group: [run for run in store.study_runs(f"search-{group}") if run.trial is None]
            for group in rows
        }
    assert {run.population for run in fresh["lone"]} == {None}
    assert len({run.population for run in fresh["batched"]}) == 1
    assert None not in {run.population for run in fresh["batched"]}


def test_a_population_that_fails_fails_its_trials_with_the_error(cli, home, monkeypatch) -> None:
    class Diverging(PrunedAtSeed4):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.fail_at = 60

    spec = dataclasses.replace(registry.AGENTS["dqn"], config=ScriptedConfig, population=Diverging)
    monkeypatch.setitem(registry.AGENTS, "dqn", spec)
    scripted_study(cli, "diverge", "--param", "discount=0.9:0.99", trials=2)
    result = cli("study", "run", "diverge", "--population", "2")
    assert result.exit_code == 0, result.output
    study, _ = load(open_storage(f"sqlite:///{home / 'workbench.db'}"), "diverge")
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL] * 2
    errors = {key: value for key, value in study.user_attrs.items() if key.startswith("error")}
    assert errors == {f"error_trial_{n}": "RuntimeError: diverged" for n in (0, 1)}
    assert "trial 1: fail, discount 0.9900 (RuntimeError: diverged)" in result.output
