"""The ``workbench`` command: the TUI with no arguments, sub-commands for scripting."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import click
import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from typer.exceptions import TyperException

from agents.registry import AGENTS, get_agent
from envs.config import build, describe
from envs.registry import TASKS, get_task
from workbench import runner
from workbench.cli.baselines import baselines
from workbench.cli.common import (
    Home,
    JsonFlag,
    console,
    err_console,
    fail,
    open_store,
    parse_assignments,
    print_json,
    read_config_file,
    user_errors,
)
from workbench.cli.evaluate import eval_run, report_app
from workbench.cli.runs import app as runs_app
from workbench.cli.studies import app as study_app

app = typer.Typer(
    name="workbench",
    help="Meta-RL Workbench: train agents on task families, watch runs, compare studies.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(runs_app, name="runs")
app.add_typer(study_app, name="study")
app.command()(baselines)
app.command("eval")(eval_run)
app.add_typer(report_app, name="report")


@app.callback(invoke_without_command=True)
@user_errors
def root(ctx: typer.Context, home: Home = None) -> None:
    """With no command, open the terminal UI on the store."""
    if ctx.invoked_subcommand is not None:
        if home is not None:  # `workbench --home D runs ls`: sub-commands read it from here
            os.environ["WORKBENCH_HOME"] = str(home)
        return
    from workbench.tui.app import WorkbenchApp  # Textual loads only when the TUI opens

    tui = WorkbenchApp(open_store(home))
    # A closed terminal (tmux kill-session, a dropped ssh) sends SIGHUP: quit, rather than
    # spin on a terminal that is gone. Training runs are separate processes and go on.
    signal.signal(signal.SIGHUP, lambda signum, frame: tui.exit())
    tui.run()


@app.command()
@user_errors
def run(
    agent: Annotated[str, typer.Argument(help="Agent name, see `workbench agents`.")],
    task: Annotated[str, typer.Argument(help="Task family, see `workbench tasks`.")],
    steps: Annotated[int, typer.Option(help="Environment steps to train for.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Agent config override key=value (repeatable)."),
    ] = None,
    task_set: Annotated[
        list[str] | None,
        typer.Option("--task-set", help="Task parameter key=value (repeatable)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file: agent keys at top level, [task] table.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name shown in listings.")] = None,
    init_from: Annotated[
        int | None,
        typer.Option(
            help="Start the networks from the last checkpoint of this run (same agent and "
            "network sizes; new optimiser, steps and seed), e.g. to fine-tune with other "
            "settings or on another task."
        ),
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", help="Train in a worker process; print the run id.")
    ] = False,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Train AGENT on TASK, in the foreground with a progress bar or in the background."""
    spec = get_agent(agent)
    family = get_task(task)
    spec.check_task(task)
    if steps < 1:
        fail(f"--steps must be a positive number of environment steps, got {steps}")
    if seed < 0:
        fail(f"--seed must be zero or positive, got {seed}")
    agent_values, task_values = read_config_file(config) if config else ({}, {})
    agent_values.update(parse_assignments(set_, "--set"))
    task_values.update(parse_assignments(task_set, "--task-set"))
    agent_config = build(spec.config, agent_values, owner=agent)
    task_params = build(family.Params, task_values, owner=task)

    store = open_store(home)
    run_id = runner.create_run(
        store,
        agent=agent,
        task=task,
        config=agent_config.to_dict(),
        task_params=task_params.to_dict(),
        seed=seed,
        total_steps=steps,
        name=name,
        init_from=init_from,
    )
    if background:
        runner.launch(store, run_id)
        print(run_id)
        return
    started = time.monotonic()
    with _interrupt_stops_run() as stop_event:
        if json_output:
            record = runner.execute(store, run_id, stop_event=stop_event)
        else:
            record = _run_with_progress(store, run_id, steps, stop_event)
    wall = time.monotonic() - started
    summary = record.summary
    if json_output:
        print_json(
            {
                "id": record.id,
                "status": record.status,
                "steps_done": record.steps_done,
                "total_steps": record.total_steps,
                "wall_seconds": round(wall, 2),
                "eval_return_mean": summary.get("eval_return_mean"),
                "eval_return_std": summary.get("eval_return_std"),
                "eval_return_ci95": summary.get("eval_return_ci95"),
                "error": record.error,
            }
        )
    elif record.status == "completed":
        console.print(
            f"run {record.id} completed in {wall:.1f} s: eval return {runner.eval_text(summary)}"
        )
    elif record.status == "stopped":
        console.print(
            f"run {record.id} stopped at step {record.steps_done}; "
            f"continue with: workbench runs resume {record.id}"
        )
    else:
        err_console.print(f"run {record.id} {record.status}: {record.error}", markup=False)
    if record.status == "failed":
        raise typer.Exit(1)


@contextmanager
def _interrupt_stops_run() -> Iterator[threading.Event]:
    """First Ctrl+C stops the run at its next report, with a checkpoint; a second forces it."""
    stop_event = threading.Event()

    def on_interrupt(signum, frame) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        stop_event.set()
        err_console.print("stopping at the next report (Ctrl+C again to force)")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stop_event
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_with_progress(store, run_id: int, steps: int, stop_event: threading.Event):
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>7.0f}/{task.total:.0f} steps"),
        TextColumn("{task.fields[speed]:>6.0f} steps/s"),
        TextColumn("return {task.fields[recent]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err_console, transient=False) as progress:
        bar = progress.add_task(f"run {run_id}", total=steps, speed=0.0, recent="-")

        def update(p: runner.Progress) -> None:
            recent = "-" if p.recent_return is None else f"{p.recent_return:.1f}"
            progress.update(bar, completed=p.step, speed=p.steps_per_second, recent=recent)

        return runner.execute(store, run_id, on_progress=update, stop_event=stop_event)


@app.command()
@user_errors
def agents(json_output: JsonFlag = False) -> None:
    """List the agents, the tasks each supports, and their config fields."""
    listing = [
        {"name": s.name, "summary": s.summary, "tasks": list(s.tasks), "config": describe(s.config)}
        for s in AGENTS.values()
    ]
    if json_output:
        print_json(listing)
        return
    for entry in listing:
        _print_fields(f"{entry['name']}: {entry['summary']}", entry["config"])
        console.print(f"  tasks: {', '.join(entry['tasks'])}\n")


@app.command()
@user_errors
def tasks(json_output: JsonFlag = False) -> None:
    """List the task families, the agents that support each, and their parameters."""
    listing = [
        {
            "name": f.name,
            "summary": f.summary,
            "agents": [s.name for s in AGENTS.values() if f.name in s.tasks],
            "params": describe(f.Params),
            "example": f.describe_task(f.sample(f.Params(), np.random.default_rng(0))),
        }
        for f in TASKS.values()
    ]
    if json_output:
        print_json(listing)
        return
    for entry in listing:
        _print_fields(f"{entry['name']}: {entry['summary']}", entry["params"])
        console.print(f"  agents: {', '.join(entry['agents']) or '-'}", markup=False)
        console.print(f"  sampled task: {entry['example']}\n", markup=False)


def _print_fields(title: str, fields: list[dict]) -> None:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in ("field", "type", "default", "range", "help"):
        table.add_column(column, overflow="fold")
    for f in fields:
        table.add_row(f["name"], f["type"], repr(f["default"]), f["range"] or "", f["help"])
    if not fields:
        table.add_row("(no parameters)", "", "", "", "")
    console.print(table)


def main() -> None:
    """Console entry point: Click's usage errors become one line and exit code 2 too."""
    try:
        result = app(standalone_mode=False)
    except (click.Abort, typer.Abort):
        err_console.print("aborted")
        sys.exit(1)
    except (click.ClickException, TyperException) as err:  # Typer may vendor its own Click
        ctx = getattr(err, "ctx", None)
        where = ctx.command_path if ctx is not None else "workbench"
        err_console.print(f"error: {err.format_message()} (see `{where} --help`)", markup=False)
        sys.exit(getattr(err, "exit_code", 2))
    sys.exit(result if isinstance(result, int) else 0)
