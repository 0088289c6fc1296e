"""What a new user tripped over, one test each (issue 11): Ctrl+C, misplaced and
abbreviated keys, one agent's fields, narrow terminals, zombie workers, slow start-up,
and the best checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import run_row, wait_for
from tests.test_cli import TINY
from workbench.store import Store

HEAVY = ("torch", "gymnasium", "optuna", "textual")


# --- Ctrl+C ------------------------------------------------------------------------------
def test_ctrl_c_on_a_foreground_run_exits_130_and_says_where_a_resume_starts(
    cli, home: Path
) -> None:
    def interrupt_once_training() -> None:
        def training() -> bool:
            if not (home / "workbench.db").exists():
                return False
            try:
                return run_row(home, 1).steps_done > 0
            except Exception:  # noqa: BLE001 - the row is not there yet
                return False

        wait_for(training, timeout=120, interval=0.1)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt_once_training, daemon=True)
    thread.start()
    result = cli("run", "dqn", "cartpole", "--steps", "500000")
    thread.join()
    assert result.exit_code == 130, result.output
    run = run_row(home, 1)
    assert run.status == "stopped"
    assert f"a resume starts from step {run.checkpoint_step}" in result.stdout
    assert "workbench runs resume 1" in result.stdout


@pytest.mark.parametrize("delay", [0.2, 0.4, 0.7, 1.0, 1.4, 2.0])
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(home: Path, delay: float) -> None:
    """The console script, interrupted while it loads (the CLI, or torch in `run`)."""
    script = Path(sys.executable).parent / "workbench"
    process = subprocess.Popen(
        # A budget no delay outlasts: an interrupt that comes once training has begun
        # stops it the same way (exit 130), rather than finding it completed.
        [str(script), "run", "dqn", "cartpole", "--steps", "1000000", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a suite started in the background by a shell without job
        # control inherits SIGINT ignored, and so would the script until it sets a handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()  # never leave a million-step run training after a failure
    assert "Traceback" not in err, err
    assert process.returncode == 130, err


# --- keys in the wrong place, abbreviated keys -------------------------------------------
def test_a_task_parameter_given_with_set_points_to_task_set(cli, home: Path) -> None:
    result = cli("run", "dqn", "cartpole", "--set", "context_low=0.5")
    assert result.exit_code == 2
    assert "context_low is a parameter of task cartpole" in result.stderr
    assert "--task-set context_low=0.5" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert not (home / "workbench.db").exists()


def test_an_agent_field_given_with_task_set_points_to_set(cli) -> None:
    result = cli("run", "dqn", "cartpole", "--task-set", "learning_rate=0.01")
    assert result.exit_code == 2
    assert "--set learning_rate=0.01" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_an_abbreviated_key_suggests_the_field(cli) -> None:
    result = cli("run", "dqn", "cartpole", "--set", "lr=0.01")
    assert result.exit_code == 2
    assert "unknown config key 'lr' for dqn (did you mean learning_rate?)" in result.stderr


# --- one agent's fields ------------------------------------------------------------------
def test_agents_with_a_name_lists_only_that_agent(cli) -> None:
    result = cli("agents", "dqn")
    assert result.exit_code == 0, result.output
    assert "dqn:" in result.stdout and "learning_rate" in result.stdout
    assert "ppo:" not in result.stdout and "rl2:" not in result.stdout
    assert len(result.stdout.splitlines()) < 60
    one = cli.json("agents", "dqn")
    assert one["name"] == "dqn" and {f["name"] for f in one["config"]} >= {"discount"}


def test_agents_with_an_unknown_name_suggests_one(cli) -> None:
    result = cli("agents", "dqnn")
    assert result.exit_code == 2
    assert "unknown agent 'dqnn' (did you mean dqn" in result.stderr
    assert result.stderr.strip().count("\n") == 0


# --- narrow terminals --------------------------------------------------------------------
def test_runs_ls_at_80_columns_keeps_the_return_and_eval_columns(
    cli, home: Path, monkeypatch
) -> None:
    store = Store(home)
    for seed in range(3):
        run_id = store.create_run(
            agent="rl2",
            task="bandit-dependent-medium",
            config={},
            task_params={},
            seed=seed,
            total_steps=1000,
            name=f"a long descriptive name for this lifetime {seed}",
        )
        summary = {"last_return": 123.4, "eval_return_mean": 456.7, "steps_per_second": 99.0}
        store.finish(run_id, "completed", summary=summary)
    store.close()
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("runs", "ls")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), result.stdout
    assert "return" in lines[0] and "eval" in lines[0]
    rows = [line for line in lines if line.strip().startswith(("1 ", "2 ", "3 "))]
    assert len(rows) == 3
    assert all("123.4" in row and "456.7" in row for row in rows), result.stdout


# --- background workers ------------------------------------------------------------------
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs procfs")
def test_a_finished_background_worker_is_reaped_under_a_long_lived_parent(home: Path) -> None:
    from workbench.worker import launch

    store = Store(home)
    pid = launch(store, 999)  # no such run: the worker exits at once, with code 2
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=120)
    store.close()


# --- start-up time -----------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["--help"], ["runs", "ls"], ["runs", "show", "1"]])
def test_listing_commands_do_not_import_torch_gymnasium_optuna_or_textual(
    home: Path, argv: list[str]
) -> None:
    store = Store(home)
    store.create_run(agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=9)
    store.close()
    probe = (
        "import sys\n"
        f"sys.argv = ['workbench', *{argv!r}]\n"
        "from workbench.cli import main\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
        f"print({HEAVY!r} and [m for m in {HEAVY!r} if m in sys.modules], code, file=sys.stderr)"
    )
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    loaded, code = done.stderr.strip().splitlines()[-1].rsplit(" ", 1)
    assert code == "0", done.stderr
    assert loaded == "[]", f"{argv} imported {loaded}"


# --- best checkpoint ---------------------------------------------------------------------
def test_best_checkpoint_is_shown_used_by_init_from_and_deleted_with_the_run(
    cli, home: Path
) -> None:
    every_200 = ["--set", "eval_interval=200"]
    first = cli.json("run", "dqn", "cartpole", *TINY, *every_200)
    assert first["status"] == "completed"
    shown = cli.json("runs", "show", "1")
    assert shown["best_eval_return_mean"] is not None
    assert shown["best_eval_return_mean"] >= shown["summary"]["eval_return_mean"]
    assert shown["best_eval_step"] in (200, 400, 600)
    assert shown["best_checkpoint_step"] == shown["best_eval_step"]
    best = Path(shown["best_checkpoint_path"])
    assert best.exists()
    text = cli("runs", "show", "1").stdout
    assert f"best checkpoint: step {shown['best_eval_step']}" in text
    second = cli("run", "dqn", "cartpole", *TINY, "--init-from", "1", "--init-checkpoint", "best")
    assert second.exit_code == 0, second.output
    assert "networks started from run 1's best checkpoint" in cli("runs", "show", "2").stdout
    assert cli("runs", "rm", "1").exit_code == 0
    assert not best.exists()


def test_a_bad_checkpoint_choice_is_one_line(cli, home: Path) -> None:
    Store(home).create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=9
    )
    bad = cli("run", "dqn", "cartpole", "--init-from", "1", "--init-checkpoint", "worst")
    assert bad.exit_code == 2 and "--init-checkpoint must be last or best" in bad.stderr
    missing = cli("run", "dqn", "cartpole", "--init-from", "1", "--init-checkpoint", "best")
    assert missing.exit_code == 2 and "run 1 has no best checkpoint" in missing.stderr
    assert missing.stderr.strip().count("\n") == 0
    evaluated = cli("eval", "1", "--checkpoint", "worst")
    assert evaluated.exit_code == 2 and "--checkpoint must be last or best" in evaluated.stderr


def test_eval_of_the_best_checkpoint(cli) -> None:
    tiny = ["--set", "num_tasks=8", "--set", "eval_tasks=8", "--set", "hidden_size=16"]
    task = ["rl2", "bandit", "--task-set", "arms=3", "--task-set", "pulls=4"]
    assert cli("run", *task, "--steps", "200", *tiny).exit_code == 0
    last = cli.json("eval", "1", "--tasks", "20")
    best = cli.json("eval", "1", "--tasks", "20", "--checkpoint", "best")
    assert best[0]["policy"] == "run 1 (rl2, best)"
    # One evaluation, at the end: the best checkpoint holds the last networks.
    assert best[0]["mean"] == pytest.approx(last[0]["mean"], abs=1e-9)
    assert json.dumps(best[1:]) == json.dumps(last[1:])
