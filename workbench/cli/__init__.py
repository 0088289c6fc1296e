"""The ``workbench`` command: the TUI with no arguments, sub-commands for scripting."""

from __future__ import annotations

import os
import signal
import sys
import time
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from workbench.cli import catalog
from workbench.cli.common import (
    Home,
    JsonFlag,
    StoreUrl,
    check_option,
    err_console,
    fail,
    open_store,
    parse_assignments,
    read_config_file,
    user_errors,
)
from workbench.cli.runs import app as runs_app
from workbench.cli.training import (
    population_exit_code,
    report_foreground,
    report_population,
    run_with_progress,
    say_stopping,
    stopped_line,
    train_population,
)
from workbench.service import populations as population_service
from workbench.service import runs as run_service
from workbench.stopping import StopSignals
from workbench.store_open import STORE_ENV

if TYPE_CHECKING:
    from workbench.store import Store

__all__ = ["app", "main", "stopped_line"]  # stopped_line: kept here for older callers

# torch, gymnasium, optuna and textual load only in the commands that use them, so that
# `workbench --help`, `runs ls` and `runs show` start fast (benchmarks/cli_startup.py).
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "study": (
        "workbench.cli.studies",
        "app",
        "Create, run, resume and compare discount studies (Optuna).",
    ),
    "baselines": (
        "workbench.cli.baselines",
        "baselines",
        "Mean total reward per meta-episode of each reference policy, with a 95% interval.",
    ),
    "eval": (
        "workbench.cli.evaluate",
        "eval_run",
        "Mean total reward of a trained run on held-out tasks, beside the reference policies.",
    ),
    "report": ("workbench.cli.evaluate", "report_app", "Tables built from several runs."),
    "plot": (
        "workbench.cli.plot",
        "plot",
        "Runs' curves of one metric as a PNG, SVG or PDF figure (smoothed, grouped).",
    ),
    "worker": (
        "workbench.cli.worker",
        "worker",
        "Train the runs queued for any worker (run --queue), here or on any machine.",
    ),
}
"""Commands whose modules load only when the command runs: name -> (module, attribute (a
Typer app or a command function), the one-line help `workbench --help` shows)."""


def load_command(name: str) -> TyperCommand | TyperGroup:
    """The click command of a lazily loaded sub-command (importing its module)."""
    module, attribute, _ = LAZY_COMMANDS[name]
    target = getattr(import_module(module), attribute)
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
        return typer.main.get_command(holder).commands[name]
    holder.command(name)(target)
    return typer.main.get_command(holder)


class LazyGroup(TyperGroup):
    """The root group: imports a lazy command's module only when that command is used; the
    help listing shows its one-line help without importing it."""

    listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self.listing:
            summary = LAZY_COMMANDS[cmd_name][2]
            return TyperCommand(cmd_name, help=summary, short_help=summary)
        return load_command(cmd_name)

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    name="workbench",
    help="Meta-RL Workbench: train agents on task families, watch runs, compare studies.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)
app.add_typer(runs_app, name="runs")


@app.callback(invoke_without_command=True)
@user_errors
def root(ctx: typer.Context, home: Home = None, store: StoreUrl = None) -> None:
    """With no command, open the terminal UI on the store."""
    if store is not None:  # every Store this process and its workers open reads it
        os.environ[STORE_ENV] = store
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
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            help="Train a population, one member per seed: a list or ranges, e.g. 0-15 or "
            "0-3,8 (one process, stacked networks; each member is its own run)."
        ),
    ] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            help="FIELD=v1,v2,... (repeatable): a population whose members take each value; "
            "members are the product of the seeds and the varied values."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto (cuda where torch sees a GPU, else cpu), cpu or cuda.")
    ] = "auto",
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
            help="Start the networks from a checkpoint of this run (same agent and "
            "network sizes; new optimiser, steps and seed), e.g. to fine-tune with other "
            "settings or on another task."
        ),
    ] = None,
    init_checkpoint: Annotated[
        str,
        typer.Option(
            help="Which checkpoint of the --init-from run: last, or best (its best evaluation's)."
        ),
    ] = "last",
    background: Annotated[
        bool,
        typer.Option(
            "--background", help="Train in a worker process; print the run id (each member's)."
        ),
    ] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Leave the run queued for any `workbench worker` (on any machine that "
            "reaches the store); print its id.",
        ),
    ] = False,
    retries: Annotated[
        int,
        typer.Option(
            help="With --queue: how many times a worker takes the run again, from its last "
            "checkpoint, when the worker training it is lost."
        ),
    ] = 0,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Train AGENT on TASK, in the foreground with a progress bar or in the background.

    Ctrl+C stops a foreground run with a checkpoint within a second (exit 130); a second
    Ctrl+C stops it at once, to resume from its last checkpoint. `runs stop` or SIGTERM
    stop it with a checkpoint too (exit 143). With --seeds (several) or --vary, a
    population: one bar for all members, then a table of their evaluations."""
    agent_values, task_values = read_config_file(config) if config else ({}, {})
    agent_values.update(parse_assignments(set_, "--set"))
    task_values.update(parse_assignments(task_set, "--task-set"))
    run_service.check_checkpoint(init_checkpoint, option="--init-checkpoint")
    if seed is not None and seeds is not None:
        fail("give --seed (one run) or --seeds (a population), not both")
    seed_list = population_service.parse_seeds(seeds) if seeds is not None else [seed or 0]
    varied = population_service.parse_vary(vary or [])
    check_option("--retries", retries, 0, 100)
    if retries and not queue:
        fail("--retries is for a run a worker takes: add --queue")
    if queue and background:
        fail("--queue leaves the run to a `workbench worker`; --background starts one here")
    if queue and (len(seed_list) > 1 or varied):
        fail("--queue takes one run (a population trains in one process): queue each seed")
    if len(seed_list) > 1 or varied:
        population = population_service.check_population(
            agent,
            task,
            agent_values=agent_values,
            task_values=task_values,
            steps=steps,
            seeds=seed_list,
            vary=varied,
            device=device,
        )
        store = open_store(home)
        run_ids = population_service.create_population(
            store,
            population,
            steps=steps,
            name=name,
            init_from=init_from,
            init_checkpoint=init_checkpoint,
        )
        _population(store, run_ids, list(varied), steps, background, json_output)
        return
    seed = seed_list[0]
    settings = run_service.check_settings(
        agent, task, agent_values=agent_values, task_values=task_values, steps=steps, seed=seed
    )
    device = population_service.resolve_device(device)
    store = open_store(home)
    run_id = run_service.create_run(
        store,
        settings,
        steps=steps,
        seed=seed,
        name=name,
        init_from=init_from,
        init_checkpoint=init_checkpoint,
        device=device,
        queue="any" if queue else None,
        retries=retries,
    )
    if background or queue:
        if background:
            run_service.start_background(store, run_id)
        print(run_id)
        return
    started = time.monotonic()
    signals = StopSignals(on_first_interrupt=say_stopping)
    try:
        with signals:
            if json_output:
                record = run_service.train_foreground(store, run_id, stop_event=signals.event)
            else:
                budget = store.get_run(run_id).total_steps  # a continual stream may be shorter
                record = run_with_progress(store, run_id, budget, signals.event)
    except KeyboardInterrupt:
        # A second Ctrl+C after the runner had finished the run (while it closed): the
        # row says how it ended.
        record = store.get_run(run_id)
    report_foreground(record, time.monotonic() - started, json_output, signals)
    if record.status == "failed":
        raise typer.Exit(1)
    if record.status == "stopped":
        # The shell's convention: 130 for a command ended by Ctrl+C, 143 by SIGTERM (or a
        # `runs stop` from another machine, which only sets the stop flag).
        raise typer.Exit(130 if signals.interrupted else 143)


def _population(
    store: Store,
    run_ids: list[int],
    varied: list[str],
    steps: int,
    background: bool,
    json_output: bool,
) -> None:
    """A queued population: its ids printed (one per line) for one worker process, or
    trained here and its members' evaluations shown."""
    if background:
        population_service.start_background(store, run_ids)
        print("\n".join(map(str, run_ids)))
        return
    started = time.monotonic()
    signals = StopSignals(on_first_interrupt=say_stopping)
    try:
        with signals:
            records = train_population(
                store, run_ids, steps, signals, show_progress=not json_output
            )
    except KeyboardInterrupt:
        records = store.get_runs(run_ids)  # a second Ctrl+C while it closed
    report_population(records, varied, time.monotonic() - started, json_output, signals)
    if code := population_exit_code(records, signals):
        raise typer.Exit(code)


app.command()(catalog.agents)
app.command()(catalog.tasks)


def main() -> None:
    """Console entry point: Click's usage errors become one line and exit code 2 too."""
    try:
        result = app(standalone_mode=False)
    except KeyboardInterrupt:
        # Before a command runs (Typer still building it from the annotations) Click's
        # own Ctrl+C handling is not in place yet.
        err_console.print("interrupted (Ctrl+C)")
        sys.exit(130)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except TyperException as err:  # Typer's usage errors (its vendored Click's included)
        ctx = getattr(err, "ctx", None)
        where = ctx.command_path if ctx is not None else "workbench"
        err_console.print(f"error: {err.format_message()} (see `{where} --help`)", markup=False)
        sys.exit(getattr(err, "exit_code", 2))
    sys.exit(result if isinstance(result, int) else 0)
