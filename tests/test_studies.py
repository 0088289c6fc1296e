"""Discount studies: search spaces, bad input, resumption after kill -9, parallel workers
on SQLite and PostgreSQL, and the meta-gradient agents' discount."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState

from agents.common.meta_gradient import StackedDiscount
from agents.registry import get_agent
from envs.config import ConfigError, build
from envs.registry import get_task
from studies.lifetimes import LifetimeResult, Verdict
from studies.remembered import forget, remember, remembered
from studies.space import grid_points, parse_space
from studies.storage import open_storage
from studies.study import StudySpec, load
from studies.worker import run_trial, suggest_all, take_queued_trial
from tests.conftest import wait_for
from workbench.service import studies as service
from workbench.store import Store
from workbench.trials import RunTrainer

A2C_TINY = ["--set", "eval_interval=1000", "--set", "eval_episodes=5"]
CHAIN = ["--task-set", "length=5"]


def create(cli, name: str, *extra: str, method: str = "grid", trials: int = 3, steps: int = 2000):
    args = ["study", "create", name, "--agent", "a2c", "--task", "chain", "--method", method]
    args += ["--trials", str(trials), "--steps", str(steps), *CHAIN, *A2C_TINY, *extra]
    return cli(*args)


def complete_discounts(detail: list[dict]) -> list[float]:
    return sorted(t["params"]["discount"] for t in detail if t["state"] == "complete")


# --- search spaces --------------------------------------------------------------------------
def test_grid_is_evenly_spaced_and_log_grids_are_geometric() -> None:
    config = get_agent("a2c").config
    (discount,) = parse_space(["discount=0.9:0.99"], config, "a2c")
    assert [p["discount"] for p in grid_points([discount], 4)] == pytest.approx(
        [0.9, 0.93, 0.96, 0.99]
    )
    space = parse_space(["learning_rate=1e-4:1e-2:log", "discount=0.9:0.99"], config, "a2c")
    points = grid_points(space, 9)
    assert sorted({p["learning_rate"] for p in points}) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert len({tuple(p.values()) for p in points}) == 9
    with pytest.raises(ConfigError, match="needs k\\*\\*2 trials"):
        grid_points(space, 5)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("discout=0.9:0.99", "not a config field of a2c (did you mean discount?)"),
        ("discount=0.99:0.9", "empty or inverted"),
        ("discount=0.9:0.9", "empty or inverted"),
        ("discount=0.9", "expected discount=low:high"),
        ("discount=0.9:1.5", "must lie in [0, 1]"),
        ("learning_rate=0:1e-2:log", "log scale needs low > 0"),
    ],
)
def test_bad_params_are_refused_with_the_reason(param: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_space([param], get_agent("a2c").config, "a2c")
    assert message in str(err.value)


# --- the CLI ------------------------------------------------------------------------------
def test_a_grid_study_runs_every_point_once_and_shows_its_counts(cli, home: Path) -> None:
    assert create(cli, "g", "--group", "demo").exit_code == 0
    result = cli("study", "run", "g")
    assert result.exit_code == 0, result.output
    shown = cli.json("study", "show", "g")
    assert (shown["n_complete"], shown["n_failed"], shown["n_running"]) == (3, 0, 0)
    assert complete_discounts(shown["trials_detail"]) == pytest.approx([0.9, 0.9495, 0.999])
    assert shown["best_value"] == max(t["value"] for t in shown["trials_detail"])
    assert set(shown["best_params"]) == {"discount"}
    runs = cli.json("runs", "ls")
    assert sorted((r["study"], r["trial"]) for r in runs) == [("g", 0), ("g", 1), ("g", 2)]
    # Created again with the same settings: nothing new is queued.
    assert create(cli, "g", "--group", "demo").exit_code == 0
    assert cli.json("study", "show", "g")["n_waiting"] == 0
    listed = cli.json("study", "ls")
    assert [(s["name"], s["state"], s["n_complete"]) for s in listed] == [("g", "done", 3)]
    assert cli("study", "rm", "g").exit_code == 0
    assert cli.json("study", "ls") == [] and cli.json("runs", "ls") == []


def test_compare_reevaluates_on_fresh_seeds(cli, home: Path) -> None:
    assert create(cli, "search", "--group", "cmp", trials=2).exit_code == 0
    assert cli("study", "run", "search").exit_code == 0
    args = ["study", "create", "online", "--agent", "mg-a2c", "--task", "chain"]
    args += ["--method", "meta-gradient", "--trials", "1", "--steps", "2000", *CHAIN, *A2C_TINY]
    assert cli(*args, "--group", "cmp").exit_code == 0
    assert cli("study", "run", "online").exit_code == 0
    rows = {row["method"]: row for row in cli.json("study", "compare", "cmp", "--lifetimes", "2")}
    assert set(rows) == {"grid", "meta-gradient"}
    assert rows["grid"]["lifetimes"] == 2 and rows["meta-gradient"]["lifetimes"] == 1
    assert rows["grid"]["env_steps"] >= 4000 and rows["grid"]["fresh_lifetimes"] == 2
    assert 0 < rows["meta-gradient"]["discount"] < 1
    for row in rows.values():
        assert {"return_mean", "return_ci95", "wall_s"} <= set(row)
    fresh = [r for r in cli.json("runs", "ls") if r["trial"] is None]
    assert sorted(r["seed"] for r in fresh) == [1_000_000, 1_000_000, 1_000_001, 1_000_001]
    # A second compare trains nothing new.
    cli.json("study", "compare", "cmp", "--lifetimes", "2")
    assert len([r for r in cli.json("runs", "ls") if r["trial"] is None]) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "grdi"], "unknown method 'grdi' (did you mean grid?)"),
        (["--agent", "a2d"], "unknown agent 'a2d'"),
        (["--param", "discont=0.9:0.99"], "not a config field of a2c (did you mean discount?)"),
        (["--param", "discount=0.99:0.9"], "empty or inverted"),
        (["--set", "discount=0.9", "--param", "discount=0.9:0.99"], "both searched"),
        (["--method", "meta-gradient"], "method meta-gradient needs an agent"),
        (["--trials", "1"], "needs k**1 trials with k >= 2"),
    ],
)
def test_bad_study_input_is_one_line_exit_2_and_creates_nothing(cli, home, args, message) -> None:
    base = ["--agent", "a2c", "--method", "grid", "--trials", "2", "--steps", "100"]
    # A flag given twice takes its last value, so each case overrides the base.
    result = cli("study", "create", "bad", "--task", "chain", *base, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cli.json("study", "ls") == []


def test_a_name_taken_with_other_settings_suggests_resume(cli, home: Path) -> None:
    assert create(cli, "taken").exit_code == 0
    result = create(cli, "taken", "--param", "discount=0.5:0.9")
    assert result.exit_code == 2
    assert "exists with a different params" in result.stderr
    assert "workbench study resume taken" in result.stderr
    assert cli.json("study", "show", "taken")["params"] == ["discount=0.9:0.999"]


def test_unknown_study_and_unreachable_storage(cli, home: Path) -> None:
    result = cli("study", "run", "nope")
    assert result.exit_code == 2 and "no study named 'nope'" in result.stderr
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/db"
    result = create(cli, "remote", "--storage", url)
    assert result.exit_code == 2, result.output
    assert "cannot open storage 'postgresql://someone:***@127.0.0.1:1/db'" in result.stderr
    assert "s3cret-pw" not in result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- interruptions and parallel workers -------------------------------------------------------
def workbench(home: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "WORKBENCH_TRIAL_HEARTBEAT_SECONDS": "1"}
    command = [sys.executable, "-m", "workbench", "--home", str(home), *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **kwargs
    )


def show(cli, name: str, *extra: str) -> dict:
    return cli.json("study", "show", name, *extra)


@pytest.mark.slow
def test_kill_9_mid_trial_then_resume_ends_with_n_trials_each_grid_point_once(
    cli, home: Path
) -> None:
    assert create(cli, "k", trials=4, steps=6000).exit_code == 0
    process = workbench(home, "study", "run", "k")
    wait_for(lambda: show(cli, "k")["n_complete"] >= 1 and show(cli, "k")["n_running"] == 1, 120)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = show(cli, "k")
    assert killed["n_running"] == 1  # its heartbeat is about to go stale
    resumed = workbench(home, "study", "resume", "k")
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    final = show(cli, "k")
    assert (final["n_complete"], final["n_failed"], final["n_running"]) == (4, 1, 0), output
    assert complete_discounts(final["trials_detail"]) == pytest.approx([0.9, 0.933, 0.966, 0.999])
    failed = [t for t in final["trials_detail"] if t["state"] == "fail"]
    retry = [t for t in final["trials_detail"] if t["retry_of"] == failed[0]["number"]]
    assert retry and retry[0]["params"] == failed[0]["params"]
    first = [t for t in killed["trials_detail"] if t["state"] == "complete"]
    kept = {t["number"]: t["value"] for t in final["trials_detail"]}
    assert all(kept[t["number"]] == t["value"] for t in first)


@pytest.mark.slow
def test_two_workers_on_sqlite_share_a_grid_without_locks_or_duplicates(cli, home) -> None:
    assert create(cli, "w", trials=6, steps=3000).exit_code == 0
    process = workbench(home, "study", "run", "w", "--workers", "2")
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert "locked" not in output
    final = show(cli, "w")
    assert (final["n_complete"], final["n_failed"]) == (6, 0)
    assert len(set(complete_discounts(final["trials_detail"]))) == 6
    hosts_pids = {line.split()[1] for line in output.splitlines() if line.startswith("worker ")}
    assert hosts_pids == {"0", "1"}  # both workers took trials


# --- PostgreSQL (tests/postgres.py: a fresh database on a throwaway server) ------------
@pytest.mark.slow
def test_two_workers_complete_one_postgres_study_every_trial_once(
    cli, tmp_path: Path, postgres_url: str
) -> None:
    # The server trusts loopback connections, so a password is accepted and ignored.
    with_password = postgres_url.replace("postgres@", "postgres:not-kept@")
    created = create(cli, "pg", "--storage", with_password, trials=6, steps=3000)
    assert created.exit_code == 0 and "PGPASSWORD" in created.stdout
    assert "not-kept" not in remembered(cli.home)["pg"]
    # Two machines: each worker has its own workbench home and reaches the same database.
    workers = [
        workbench(tmp_path / f"machine-{i}", "study", "worker", "pg", "--storage", postgres_url)
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = optuna.load_study(study_name="pg", storage=open_storage(postgres_url))
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    assert len({t.params["discount"] for t in trials}) == 6
    assert all("trial" in out for out in outputs)  # both took trials
    listed = cli.json("study", "show", "pg")  # found through the remembered storage
    assert listed["n_complete"] == 6 and "postgresql://postgres@127.0.0.1" in listed["storage"]


# --- the meta-gradient ------------------------------------------------------------------------
def test_meta_gradient_matches_finite_differences_through_one_sgd_step() -> None:
    """d J'(theta - alpha g(theta, eta)) / d eta, by the module and by finite differences
    (one member: a lone run's learned discount)."""
    torch.manual_seed(0)
    theta = torch.randn(3)
    x, r = torch.randn(16, 3), torch.randn(16)
    alpha = 0.1

    def inner_grad(gamma: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        loss = ((x @ params - gamma * r) ** 2).mean()
        return torch.autograd.grad(loss, params, create_graph=True)[0]

    def outer(params: torch.Tensor) -> torch.Tensor:
        return ((x @ params - 0.99 * r) ** 2).mean()

    discount = StackedDiscount([0.6], meta_learning_rate=[1e-3])
    start = theta.clone().requires_grad_()
    g = inner_grad(discount.value[0], start)
    after = (theta - alpha * g.detach()).requires_grad_()
    v = torch.autograd.grad(outer(after), after)[0]
    eta = float(discount.eta.detach()[0])
    got = float(discount.meta_step([g[None]], [v[None]], alpha)[0])

    def objective(e: float) -> float:
        params = theta.clone().requires_grad_()
        step = inner_grad(torch.sigmoid(torch.tensor(e)), params)
        return float(outer(theta - alpha * step.detach()))

    eps = 1e-3
    expected = (objective(eta + eps) - objective(eta - eps)) / (2 * eps)
    assert got == pytest.approx(expected, rel=1e-2)
    moved = float(discount.eta.detach()[0]) - eta
    assert moved < 0 if got > 0 else moved > 0


def train(agent: str, steps: int, config: dict, task_params: dict, seed: int = 0):
    spec, family = get_agent(agent), get_task("chain")
    params = build(family.Params, task_params, owner="chain")
    learner = spec.make(build(spec.config, config, owner=agent), family, params, seed)
    reports = list(learner.learn(steps))
    return learner, reports, params


@pytest.mark.slow
def test_mg_a2c_raises_a_short_discount_on_a_delayed_reward_chain() -> None:
    """gamma 0.5 is below the chain's critical discount (0.67): A2C with it exits for 0.2;
    mg-a2c raises gamma past 0.67 and walks to the goal for 1.0."""
    settings = {"discount": 0.5, "entropy_coef": 0.05, "eval_interval": 20_000}
    task = {"length": 5}
    _, fixed, params = train("a2c", 20_000, settings, task)
    assert fixed[-1].scalars["eval/episode_return"] == pytest.approx(params.exit_reward)
    learner, reports, params = train(
        "mg-a2c", 20_000, settings | {"meta_learning_rate": 0.05}, task
    )
    curve = [r.scalars["meta/discount"] for r in reports if "meta/discount" in r.scalars]
    assert all(0 < g < 1 for g in curve)
    assert curve[-1] > params.critical_discount > settings["discount"]
    assert np.mean(curve[-5:]) > np.mean(curve[:5])
    assert reports[-1].scalars["eval/episode_return"] == pytest.approx(params.goal_reward)


def test_meta_dqn_logs_its_discount_and_resumes_it() -> None:
    settings = {
        "learning_starts": 100,
        "train_frequency": 50,
        "gradient_steps": 8,
        "eval_interval": 1000,
        "eval_episodes": 2,
        "meta_interval": 2,
    }
    learner, reports, _ = train("meta-dqn", 600, settings, {"length": 4})
    curve = [r.scalars["meta/discount"] for r in reports if "meta/discount" in r.scalars]
    assert len(curve) >= 5 and all(0 < g < 1 for g in curve)
    assert curve[-1] != pytest.approx(0.99, abs=1e-6)  # it moved
    state = learner.state_dict()
    again, _, _ = train("meta-dqn", 0, settings, {"length": 4})
    again.load_state_dict(state)
    # The lone agent is a population of one (agents/common/population.py ``Lone``).
    assert again.population.discount.values()[0] == pytest.approx(curve[-1])


@pytest.mark.slow
def test_median_pruner_stops_lifetimes_behind_the_median(cli, home: Path) -> None:
    args = ["study", "create", "pr", "--agent", "a2c", "--task", "cartpole"]
    args += ["--method", "random", "--trials", "8", "--steps", "6000"]
    args += ["--param", "discount=0.3:0.99", "--pruner", "median", *A2C_TINY]
    assert cli(*args).exit_code == 0
    assert cli("study", "run", "pr").exit_code == 0
    detail = show(cli, "pr")["trials_detail"]
    pruned = [t for t in detail if t["state"] == "pruned"]
    assert pruned and len(pruned) + sum(t["state"] == "complete" for t in detail) == 8
    assert all(t["env_steps"] < 6000 for t in pruned)


def test_without_password_drops_only_the_password() -> None:
    from studies.urls import without_password

    assert without_password("postgresql://u:pw@h:5432/db") == "postgresql://u@h:5432/db"
    assert without_password("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_ls_marks_a_remembered_storage_that_is_down(cli, home: Path) -> None:
    remember(home, "far", "postgresql://u:pw@127.0.0.1:1/db")
    (row,) = cli.json("study", "ls")
    assert (row["name"], row["state"]) == ("far", "unreachable")
    assert "pw" not in row["storage"] and "pw" not in row["error"]


def test_summaries_reuse_an_open_storage_and_reopen_it_after_a_failure(
    cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy

    from studies import catalog, storage

    assert create(cli, "kept", trials=2).exit_code == 0
    url = storage.sqlite_url(home / "workbench.db")
    first = storage.shared_storage(url)
    assert storage.shared_storage(url) is first
    assert catalog.study_summary("kept", url).state == "paused"
    real_load = catalog.load

    def failing_load(opened, name):
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed"))

    monkeypatch.setattr(catalog, "load", failing_load)
    row = catalog.study_summary("kept", url)
    assert row.state == "unreachable" and "server closed" in row.error
    monkeypatch.setattr(catalog, "load", real_load)
    assert catalog.study_summary("kept", url).counts.waiting == 2
    assert storage.shared_storage(url) is not first  # opened afresh after the failure


def test_a_bayes_study_with_the_gp_sampler_runs(cli, home: Path) -> None:
    assert create(cli, "gp", "--sampler", "gp", method="bayes", trials=3, steps=600).exit_code == 0
    result = cli("study", "run", "gp")
    assert result.exit_code == 0, result.output
    detail = show(cli, "gp")["trials_detail"]
    assert [t["state"] for t in detail] == ["complete"] * 3
    assert all(0.9 <= t["params"]["discount"] <= 0.999 for t in detail)


# --- the package boundary and the service layer ------------------------------------------------
def test_studies_never_import_workbench() -> None:
    """studies is handed a trainer; it imports agents and envs, never workbench (not even
    inside a function)."""
    import ast

    found = []
    for path in sorted((Path(__file__).parents[1] / "studies").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [(path.name, name) for name in names if name.split(".")[0] == "workbench"]
    assert found == []


def tiny_spec(**overrides) -> StudySpec:
    values = dict(
        agent="a2c",
        task="chain",
        method="grid",
        trials=2,
        steps=2000,
        params=["discount=0.9:0.99"],
        fixed={"eval_interval": "500", "eval_episodes": "2"},
        task_params={"length": "4"},
        group=None,
        pruner="none",
        sampler="tpe",
        seed=0,
    )
    return StudySpec.from_cli(**(values | overrides))


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


class ScriptedTrainer:
    """Reports evaluations at steps 500, 1000 and (the final one) 2000, stopping at the
    first PRUNE verdict, as a trainer that honours it would."""

    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def train(self, lifetime, *, on_start, on_evaluation, stop=None) -> LifetimeResult:
        on_start(7)
        for step in (500, 1000, 2000):
            self.verdicts.append(on_evaluation(step, 0.5))
            if self.verdicts[-1] is Verdict.PRUNE:
                return LifetimeResult(7, "pruned", lifetime.seed, 0.5, None, step, 0.1)
        return LifetimeResult(7, "completed", lifetime.seed, 0.5, None, 2000, 0.1)

    def finished(self, study, config):
        return {}


def test_a_prune_verdict_prunes_the_trial_without_touching_the_stop_signal(tmp_path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'studies.db'}")  # trials beat a heartbeat
    study = optuna.create_study(
        study_name="p", storage=storage, direction="maximize", pruner=AlwaysPrune()
    )
    spec = tiny_spec()
    study.enqueue_trial({"discount": 0.9})
    trial = take_queued_trial(study)
    trainer, stop = ScriptedTrainer(), threading.Event()
    outcome = run_trial(study, trial, spec, trainer, stop)
    assert trainer.verdicts == [Verdict.PRUNE]
    assert outcome.state == TrialState.PRUNED and outcome.run_id == 7
    (frozen,) = study.get_trials()
    assert frozen.state == TrialState.PRUNED and frozen.intermediate_values == {1: 0.5}
    assert frozen.user_attrs["run_id"] == 7 and frozen.user_attrs["env_steps"] == 500
    assert not stop.is_set()
    # Without a pruner the same lifetime completes; the final evaluation is not reported.
    study = optuna.create_study(study_name="q", storage=storage, direction="maximize")
    study.enqueue_trial({"discount": 0.9})
    trainer = ScriptedTrainer()
    outcome = run_trial(study, take_queued_trial(study), spec, trainer, stop)
    assert outcome.state == TrialState.COMPLETE and len(trainer.verdicts) == 3
    assert study.get_trials()[0].intermediate_values == {1: 0.5, 2: 0.5}


def test_prune_after_holds_the_pruner_back_until_that_step(tmp_path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'studies.db'}")
    study = optuna.create_study(
        study_name="p", storage=storage, direction="maximize", pruner=AlwaysPrune()
    )
    spec = tiny_spec(pruner="hyperband", prune_after=800)  # the evaluation at 500 is not seen
    study.enqueue_trial({"discount": 0.9})
    trainer, stop = ScriptedTrainer(), threading.Event()
    outcome = run_trial(study, take_queued_trial(study), spec, trainer, stop)
    assert trainer.verdicts == [Verdict.CONTINUE, Verdict.PRUNE]  # pruned at 1000, not 500
    assert outcome.state == TrialState.PRUNED
    assert study.get_trials()[0].intermediate_values == {1: 0.5}  # its first rung: step 1000
    with pytest.raises(ConfigError, match="no pruner to hold back"):
        tiny_spec(prune_after=800)
    with pytest.raises(ConfigError, match="--prune-after 2000: give 0 to 1,999 env steps"):
        tiny_spec(pruner="median", prune_after=2000)
    assert StudySpec.from_json(tiny_spec().to_json().replace(', "prune_after": 0', "")) == (
        tiny_spec()
    )  # a study stored before the field reads as 0


def test_the_run_trainer_stops_a_pruned_lifetime_and_links_its_run(home: Path) -> None:
    store = Store(home)
    spec = tiny_spec(steps=2_000_000)
    lifetime = spec.lifetime("s", spec.config_for({"discount": 0.9}), 3, "s/trial-0", trial=0)
    started = []
    result = RunTrainer(store).train(
        lifetime, on_start=started.append, on_evaluation=lambda step, value: Verdict.PRUNE
    )
    run = store.get_run(result.run_id)
    assert started == [run.id] and (run.study, run.trial, run.seed) == ("s", 0, 3)
    assert result.status == "pruned" and run.status == "stopped"
    assert 0 < result.env_steps < 2_000_000 and result.value is not None
    stop = threading.Event()
    stop.set()  # the caller's stop is a stop, not a prune
    stopped = RunTrainer(store).train(lifetime, stop=stop)
    assert stopped.status == "stopped"
    assert service.stop_study(store, "s") == []


def test_stop_study_asks_its_active_runs_here_to_stop(home: Path) -> None:
    store = Store(home)
    ids = [
        store.create_run(
            agent="a2c",
            task="chain",
            config={},
            task_params={},
            seed=0,
            total_steps=10,
            study=study,
            trial=0,
        )
        for study in ("a", "a", "b")
    ]
    assert service.stop_study(store, "a") == ids[:2]
    assert [store.get_run(i).status for i in ids] == ["stopped", "stopped", "queued"]


def test_live_curves_of_a_meta_rl_study_plot_its_main_metric(home: Path) -> None:
    """rl2 logs eval/meta_episode_return, not eval/episode_return: the study's live curves
    read the agent's main metric."""
    store = Store(home)
    spec = tiny_spec(
        agent="rl2",
        task="bandit-dependent-easy",
        steps=200,
        fixed={"num_tasks": "8", "eval_tasks": "8", "hidden_size": "16"},
        task_params={"pulls": "6"},
    )
    service.create_study(store, "meta", spec)
    study, _ = load(open_storage(service.home_url(store)), "meta")
    trial = take_queued_trial(study)  # running, as a worker's trial is while it trains
    config = spec.config_for(suggest_all(trial, spec))
    lifetime = spec.lifetime("meta", config, 0, "meta/trial-0", trial=trial.number)
    RunTrainer(store).train(lifetime, on_start=lambda run_id: trial.set_user_attr("run_id", run_id))
    detail = service.study_detail(store, "meta")
    assert detail.metric == "eval/meta_episode_return"
    assert [t.state for t in detail.trials] == ["running", "waiting"]
    curve = detail.live[trial.number]
    assert curve.metric == detail.metric and curve.values and len(curve.steps) == len(curve.values)


def test_remembered_storages_are_studies_own_file(home: Path) -> None:
    assert remembered(home) == {}
    remember(home, "b", "postgresql://u@h/b")
    remember(home, "a", "postgresql://u@h/a")
    assert list(remembered(home)) == ["a", "b"]
    assert (home / "study-storages.json").exists() and not (home / "workbench.db").exists()
    forget(home, "b")
    forget(home, "never-there")
    assert remembered(home) == {"a": "postgresql://u@h/a"}
    (home / "study-storages.json").write_text('{"a": ')  # cut short by a crash
    assert remembered(home) == {}


def test_trial_curves_follow_the_run_only_when_its_own_link_agrees(home: Path) -> None:
    """A trial trained on another machine carries that machine's run id; the run of that
    id here belongs to something else and is not plotted."""
    from studies.catalog import TrialRow
    from workbench.trials import trial_curves

    store = Store(home)
    run_id = store.create_run(
        agent="a2c",
        task="chain",
        config={},
        task_params={},
        seed=0,
        total_steps=10,
        study="here",
        trial=0,
    )
    store.write_metrics(run_id, [("eval/episode_return", 5, 1.0)], 5)

    def trial(run: int, state: str = "running") -> TrialRow:
        return TrialRow(0, state, None, {}, None, 0, run, None, None, None)

    (curve,) = trial_curves(store, "here", [trial(run_id)], "eval/episode_return").values()
    assert (curve.steps, curve.values) == ([5], [1.0])
    assert trial_curves(store, "elsewhere", [trial(run_id)], "eval/episode_return") == {}
    assert trial_curves(store, "here", [trial(run_id, "complete")], "eval/episode_return") == {}
