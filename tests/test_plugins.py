"""Plug-in agents: the example agent learns and passes `agents check`, broken copies get one
line per problem, bad specs one line and exit 2 with nothing created, runs record the
source hash and a resume refuses a changed source, entry points, schema 9, the TUI."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from agents.registry import get_agent
from envs.registry import get_task
from workbench.plugins import AGENT_GROUP, TASK_GROUP
from workbench.schema import SCHEMA_VERSION
from workbench.service import runs as run_service
from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.launch import LaunchScreen

from .test_tui import until

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "linear_q.py"
SPEC = f"{EXAMPLE}:LinearQ"
BREAKS = {
    "missing method": ("    def weights(self)", "    def weights_gone(self)"),
    "Config without defaults": (
        "learning_rate: float = bounded(0.1, 0.0, 1.0, low_open=True, log=True)",
        "learning_rate: float",
    ),
    "learn not a generator": ("yield Report(self.steps_done, scalars)", "return"),
}
"""Each way of breaking the example: (text in it, replacement)."""
PROBLEMS = {
    "missing method": "missing method weights()",
    "Config without defaults": "Config field learning_rate has no default",
    "learn not a generator": "learn() is not a generator",
}


def broken_copy(folder: Path, *breaks: str) -> str:
    source = EXAMPLE.read_text()
    for name in breaks:
        old, new = BREAKS[name]
        assert old in source
        source = source.replace(old, new)
    path = folder / f"broken_{'_'.join(b.split()[0] for b in breaks)}.py"
    path.write_text(source)
    return f"{path}:LinearQ"


def test_the_example_agent_learns_the_chain() -> None:
    """Tabular Q-learning with optimistic values walks to the goal (return 1.0); an agent
    that exits at once earns 0.2."""
    spec = get_agent(SPEC)
    family = get_task("chain")
    agent = spec.make(spec.config(), family, family.Params(), 3)
    evaluations = [
        r.scalars["eval/episode_return"]
        for r in agent.learn(3000)
        if "eval/episode_return" in r.scalars
    ]
    assert len(evaluations) == 3 and evaluations[-1] == 1.0


def test_agents_check_passes_on_the_example(cli) -> None:
    result = cli("agents", "check", SPEC)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: ") and "resumed" in result.stdout


@pytest.mark.parametrize("broken", sorted(BREAKS))
def test_agents_check_names_each_problem_of_a_broken_copy(cli, tmp_path, broken) -> None:
    result = cli("agents", "check", broken_copy(tmp_path, broken))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and PROBLEMS[broken] in lines[0], lines


def test_a_copy_broken_three_ways_gets_three_lines(cli, tmp_path) -> None:
    result = cli("agents", "check", broken_copy(tmp_path, *BREAKS))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    for expected, line in zip(sorted(PROBLEMS.values()), sorted(lines), strict=True):
        assert expected in line


def test_running_a_broken_copy_is_one_line_and_creates_nothing(cli, tmp_path, home) -> None:
    result = cli("run", broken_copy(tmp_path, *BREAKS), "chain", "--steps", "100")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "(and 2 more)" in line and "workbench agents check" in line
    assert Store(home).list_runs() == []


@pytest.mark.parametrize(
    ("spec", "task", "expected"),
    [
        ("no/such/file.py:Agent", "chain", "no file"),
        (f"{EXAMPLE}:LinearQQ", "chain", "has no 'LinearQQ' (did you mean LinearQ"),
        ("no_such_package.agents:Agent", "chain", "no module named 'no_such_package.agents'"),
        ("json:NoSuchClass", "chain", "json has no 'NoSuchClass'"),
        ("dqn", "gym:Acrobt-v1", "no environment 'Acrobt-v1' (did you mean Acrobot-v1?)"),
        ("dqn", "gym:no_such_module:Env-v0", "cannot import module 'no_such_module'"),
        ("ppo", "gym:Pendulum-v1", "'ppo' takes discrete actions and gym:Pendulum-v1 has box"),
        ("rl2", "gym:CartPole-v1", "'rl2' does not train on gymnasium environments"),
    ],
)
def test_bad_specs_are_one_line_and_create_nothing(cli, home, spec, task, expected) -> None:
    result = cli("run", spec, task, "--steps", "100")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert expected in line, line
    assert Store(home).list_runs() == []


def test_a_run_records_its_spec_and_hash_and_resume_refuses_a_changed_source(
    cli, tmp_path, home
) -> None:
    copy = tmp_path / "my_agent.py"
    shutil.copy(EXAMPLE, copy)
    summary = cli.json("run", f"{copy}:LinearQ", "chain", "--steps", "1500")
    assert summary["status"] == "completed" and summary["eval_return_mean"] == 1.0
    store = Store(home)
    run = store.get_run(summary["id"])
    assert run.agent == f"{copy}:LinearQ" and run.name == f"LinearQ-chain-{run.id}"
    assert run.agent_sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()
    store.sql.execute("UPDATE runs SET status = 'stopped' WHERE id = :id", {"id": run.id})
    run_service.check_agent_source(store.get_run(run.id))  # unchanged: no objection
    copy.write_text(copy.read_text() + "\n# edited\n")
    result = cli("runs", "resume", str(run.id))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"the source of agent {copy}:LinearQ" in line and "changed since" in line
    assert store.get_run(run.id).status == "stopped"  # nothing launched


def install_entry_points(folder: Path, monkeypatch, group: str, entries: dict[str, str]) -> None:
    """A fake installed distribution whose entry points are ``entries`` in ``group``."""
    info = folder / "workbench_test_plugins-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: workbench-test-plugins\n")
    lines = [f"[{group}]", *(f"{name} = {target}" for name, target in entries.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(folder))


def test_entry_point_agents_are_listed_and_run_by_name(cli, tmp_path, monkeypatch) -> None:
    shutil.copy(EXAMPLE, tmp_path / "wb_test_linear_q.py")
    install_entry_points(
        tmp_path, monkeypatch, AGENT_GROUP, {"linear-q-test": "wb_test_linear_q:LinearQ"}
    )
    listed = {agent["name"]: agent for agent in cli.json("agents")}
    assert listed["linear-q-test"]["tasks"] == ["chain"]
    assert listed["linear-q-test"]["gym_actions"] == ["discrete"]
    summary = cli.json("run", "linear-q-test", "chain", "--steps", "1000")
    assert summary["status"] == "completed"


def test_entry_point_task_families_are_found_by_name(cli, tmp_path, monkeypatch) -> None:
    install_entry_points(
        tmp_path, monkeypatch, TASK_GROUP, {"chain-test": "envs.chain:ChainFamily"}
    )
    family = get_task("chain-test")
    assert family.name == "chain-test" and get_task("chain").name == "chain"
    assert "chain-test" in {task["name"] for task in cli.json("tasks")}


def test_a_schema_7_store_gains_the_agent_hash_column_and_keeps_its_runs(home: Path) -> None:
    store = Store(home)
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=10
    )
    store.db["runs"].transform(drop={"agent_sha256"})
    store.db.execute("PRAGMA user_version = 7")
    store.close()
    reopened = Store(home)
    assert "agent_sha256" in reopened.db["runs"].columns_dict
    run = reopened.get_run(run_id)
    assert (run.agent, run.total_steps, run.agent_sha256) == ("dqn", 10, None)
    assert reopened.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_the_launch_dialog_loads_a_typed_spec_and_launches_it(home: Path) -> None:
    store = Store(home)
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        spec_input = app.screen.query_one("#agent-spec", Input)
        spec_input.value = SPEC
        spec_input.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query_one("#agent", Select).value == SPEC, 30)
        await until(pilot, lambda: any(w.name == "initial_value" for w in app.screen.query(Input)))
        assert app.screen.query_one("#task", Select).value == "chain"
        app.screen.query_one("#steps", Input).value = "2000"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen), 30)
        (run,) = store.list_runs()
        assert run.agent == SPEC and run.agent_sha256
        await until(pilot, lambda: store.get_run(run.id).status == "completed", 60)


async def test_the_launch_dialog_says_why_a_typed_spec_does_not_load(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        spec_input = app.screen.query_one("#agent-spec", Input)
        spec_input.value = "no/such/file.py:Agent"
        spec_input.focus()
        await pilot.press("enter")
        top = app.screen.query_one("#launch-top-error")
        await until(pilot, lambda: "no file" in str(top.render()), 10)
        assert app.screen.query_one("#agent", Select).value == "dqn"


def test_agents_check_finds_what_only_running_shows(cli, tmp_path) -> None:
    """A checkpoint torch cannot load weights-only, and metrics that are not numbers: the
    class looks right, running it does not."""
    source = EXAMPLE.read_text()
    for old, new in (
        ('"rng": numpy_rng_state(self.rng),', '"rng": self.rng,'),
        ('scalars: dict[str, float] = {"train/td_error": float(error)}', 'scalars = {"td": "x"}'),
    ):
        assert old in source
        source = source.replace(old, new)
    (tmp_path / "runs_badly.py").write_text(source)
    result = cli("agents", "check", f"{tmp_path / 'runs_badly.py'}:LinearQ")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    assert "metric key 'td': use slash keys" in lines[0]
    assert "metric 'td' is str: yield float(...)" in lines[1]
    assert "state_dict() raised TypeError: not readable by torch.load(weights_only" in lines[2]


async def test_the_launch_dialog_offers_installed_agents(home, tmp_path, monkeypatch) -> None:
    shutil.copy(EXAMPLE, tmp_path / "wb_tui_linear_q.py")
    install_entry_points(
        tmp_path, monkeypatch, AGENT_GROUP, {"linear-q-tui": "wb_tui_linear_q:LinearQ"}
    )
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        select = app.screen.query_one("#agent", Select)
        await until(pilot, lambda: "linear-q-tui" in [value for _, value in select._options], 30)
        assert select.value == "dqn"  # offered, not chosen
        select.value = "linear-q-tui"
        await until(pilot, lambda: any(w.name == "initial_value" for w in app.screen.query(Input)))
        assert app.screen.query_one("#task", Select).value == "chain"


def test_agents_check_stops_a_learn_whose_steps_do_not_advance(cli, tmp_path) -> None:
    old = "before, self.steps_done = self.steps_done, self.steps_done + 1"
    source = EXAMPLE.read_text()
    assert old in source
    (tmp_path / "stuck.py").write_text(source.replace(old, "before = self.steps_done"))
    result = cli("agents", "check", f"{tmp_path / 'stuck.py'}:LinearQ")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "learn(300) yielded 4,001 reports and is at step 0" in line
