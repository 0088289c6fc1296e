"""The CLI: listings, a foreground run, and one clear line with exit 2 for every bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

TINY = [
    "--steps",
    "600",
    "--set",
    "learning_starts=100",
    "--set",
    "eval_episodes=2",
    "--set",
    "train_frequency=100",
    "--set",
    "gradient_steps=2",
]


def test_agents_listing_has_fields_with_defaults_and_help(cli) -> None:
    agents = {a["name"]: a for a in cli.json("agents")}
    fields = {f["name"]: f for f in agents["dqn"]["config"]}
    assert agents["dqn"]["tasks"] == [
        "cartpole",
        "mountaincar",
        "lunarlander",
        "foraging",
        "chain",
        "scavenger",
    ]
    assert fields["discount"]["default"] == 0.99
    assert fields["discount"]["help"]


def test_tasks_listing(cli) -> None:
    tasks = {t["name"]: t for t in cli.json("tasks")}
    assert tasks["cartpole"]["agents"] == ["dqn", "meta-dqn", "a2c", "mg-a2c", "ppo"]
    assert tasks["bandit"]["agents"] == ["rl2", "l2rl", "snail", "varibad"]
    assert tasks["gridworld"]["agents"] == ["rl2", "l2rl", "snail", "varibad"]


def test_foreground_run_json(cli) -> None:
    result = cli("run", "dqn", "cartpole", *TINY, "--seed", "4", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed"
    assert summary["steps_done"] == 600
    assert summary["eval_return_mean"] > 0
    assert summary["eval_return_std"] >= 0
    shown = cli.json("runs", "show", str(summary["id"]))
    assert {k: shown[k] for k in ("status", "steps_done", "total_steps", "agent", "task")} == {
        "status": "completed",
        "steps_done": 600,
        "total_steps": 600,
        "agent": "dqn",
        "task": "cartpole",
    }
    assert shown["config"]["learning_starts"] == 100
    assert shown["seed"] == 4


def test_home_before_the_command_reaches_the_command(cli, home: Path) -> None:
    """`workbench --home D runs ls` reads D, as `workbench --help` promises."""
    from workbench.cli import app
    from workbench.store import Store

    Store(home).create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=3, total_steps=100
    )
    result = cli.runner.invoke(app, ["--home", str(home), "runs", "ls", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["seed"] for r in json.loads(result.stdout)] == [3]


def test_foreground_run_prints_evaluation_line(cli) -> None:
    result = cli("run", "dqn", "cartpole", *TINY)
    assert result.exit_code == 0, result.output
    assert "completed" in result.stdout and "eval return" in result.stdout and "±" in result.stdout


def test_config_file_and_set_override(cli, tmp_path: Path) -> None:
    config = tmp_path / "dqn.toml"
    config.write_text("discount = 0.9\nlearning_starts = 100\neval_episodes = 2\n")
    result = cli(
        "run",
        "dqn",
        "cartpole",
        "--steps",
        "300",
        "--config",
        str(config),
        "--set",
        "discount=0.8",
        "--json",
    )
    assert result.exit_code == 0, result.output
    (run,) = cli.json("runs", "ls")
    assert run["config"]["discount"] == 0.8
    assert run["config"]["learning_starts"] == 100


def test_export_has_each_step_once_in_csv_and_json(cli) -> None:
    assert cli("run", "dqn", "cartpole", *TINY).exit_code == 0
    result = cli("runs", "export", "1", "--format", "csv", "--wide")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    steps = [int(row["step"]) for row in rows]
    assert steps == sorted(set(steps))
    assert steps[-1] == 600 and rows[-1]["eval/episode_return"]
    exported = json.loads(cli("runs", "export", "1", "--format", "json", "--wide").stdout)
    assert [row["step"] for row in exported["metrics"]] == steps


def test_runs_ls_empty_gives_a_hint(cli) -> None:
    result = cli("runs", "ls")
    assert result.exit_code == 0
    assert "workbench run dqn cartpole" in result.stdout


def test_runs_ls_with_a_status_filter_says_what_it_filtered(cli) -> None:
    assert cli("run", "dqn", "cartpole", *TINY).exit_code == 0
    result = cli("runs", "ls", "--status", "running")
    assert result.exit_code == 0
    assert "No running runs" in result.stdout and "No runs yet" not in result.stdout


def test_rm_deletes_run_and_metrics(cli) -> None:
    assert cli("run", "dqn", "cartpole", *TINY).exit_code == 0
    assert cli("runs", "rm", "1").exit_code == 0
    assert cli.json("runs", "ls") == []


def bad_toml(tmp_path: Path) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text("discount = = 0.9\n")
    return path


BAD_INPUTS = [
    (["run", "dqnn", "cartpole"], "unknown agent 'dqnn' (did you mean dqn or meta-dqn?)"),
    (["run", "dqn", "cartpol"], "unknown task 'cartpol' (did you mean cartpole?)"),
    (
        ["run", "dqn", "cartpole", "--set", "discount=1.5"],
        "discount=1.5 is out of range: allowed [0, 1]",
    ),
    (
        ["run", "dqn", "cartpole", "--set", "learning_rate=abc"],
        "learning_rate='abc' is not a valid float",
    ),
    (
        ["run", "dqn", "cartpole", "--set", "discont=0.9"],
        "unknown config key 'discont' for dqn (did you mean discount",  # (or context?)
    ),
    (["run", "dqn", "cartpole", "--set", "discount"], "--set 'discount' is not key=value"),
    (["run", "dqn", "cartpole", "--steps", "0"], "--steps must be a positive number"),
    (["run", "dqn", "cartpole", "--seed", "-1"], "--seed must be zero or positive"),
    (["runs", "show", "42"], "no run with id 42"),
    (
        ["runs", "export", "1", "--format", "xml"],
        "--format must be one of csv, json, parquet, tensorboard, got 'xml'",
    ),
    (["runs", "ls", "--status", "finished"], "unknown status 'finished'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, home: Path, args, message) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stdout == ""
    assert not (home / "workbench.db").exists() or cli.json("runs", "ls") == []


def test_unsupported_pair(cli, home: Path) -> None:
    result = cli("run", "dqn", "bandit")
    assert result.exit_code == 2
    assert "agent 'dqn' does not support task 'bandit'; it supports: cartpole" in result.stderr
    assert not (home / "workbench.db").exists()


def test_config_file_that_does_not_parse(cli, home: Path, tmp_path: Path) -> None:
    result = cli("run", "dqn", "cartpole", "--config", str(bad_toml(tmp_path)))
    assert result.exit_code == 2
    assert "is not valid TOML" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert not (home / "workbench.db").exists()


def test_store_that_is_not_sqlite(cli, home: Path) -> None:
    home.mkdir()
    db = home / "workbench.db"
    db.write_text("not a database\n" * 100)
    before = db.read_bytes()
    result = cli("run", "dqn", "cartpole", "--steps", "100")
    assert result.exit_code == 2
    assert "is not a workbench store" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert db.read_bytes() == before
    assert sorted(p.name for p in home.iterdir() if p.is_file()) == ["workbench.db"]


def test_stopping_a_finished_run_is_refused(cli) -> None:
    assert cli("run", "dqn", "cartpole", *TINY).exit_code == 0
    result = cli("runs", "stop", "1")
    assert result.exit_code == 2
    assert "run 1 is completed, not running; nothing to stop" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "dqn", "cartpole", "--steps", "abc"], "Invalid value for '--steps'"),
        (["run"], "Missing argument 'agent'"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
)
def test_console_script_turns_usage_errors_into_one_line(monkeypatch, capsys, argv, message):
    from workbench.cli import main

    monkeypatch.setattr("sys.argv", ["workbench", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "--help" in err
    assert err.strip().count("\n") == 0


def test_each_store_gets_its_own_run_log(tmp_path: Path) -> None:
    """Two homes in one process both have a run 1; each log holds only its own run."""
    from tests.conftest import Cli

    first, second = Cli(tmp_path / "a"), Cli(tmp_path / "b")
    assert first("run", "dqn", "cartpole", *TINY, "--seed", "11").exit_code == 0
    assert second("run", "dqn", "cartpole", *TINY, "--seed", "22").exit_code == 0
    first_log = (tmp_path / "a" / "logs" / "run-1.log").read_text()
    second_log = (tmp_path / "b" / "logs" / "run-1.log").read_text()
    assert "seed 11" in first_log and "seed 22" not in first_log
    assert "seed 22" in second_log and "seed 11" not in second_log
