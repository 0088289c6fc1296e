"""``workbench study``: create, run, resume and compare discount studies (studies/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from studies.study import METHODS, PRUNERS, SAMPLERS, StudySpec
from workbench.cli.common import (
    Home,
    JsonFlag,
    console,
    open_store,
    parse_assignments,
    print_json,
    user_errors,
)
from workbench.cli.compare import compare_group
from workbench.format import fixed
from workbench.service import studies as service
from workbench.stopping import StopSignals

app = typer.Typer(help="Create, run, resume and compare discount studies (Optuna).")

Name = Annotated[str, typer.Argument(help="Study name, see `workbench study ls`.")]
PopulationOpt = Annotated[
    int | None,
    typer.Option(
        "--population",
        help="Trials each worker takes at once and trains as one batched population "
        "(same results as one at a time, faster). Default: the study's own (study create "
        "--population), else 1.",
        show_default=False,
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(help="Where lifetimes train: auto (a GPU where there is one), cpu or cuda."),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Database URL of the study (e.g. postgresql://user@host/db). "
        "Default: the workbench's own SQLite file, or where the study was created.",
        show_default=False,
    ),
]


@app.command("create")
@user_errors
def create_study(
    name: Annotated[str, typer.Argument(help="A new study's name.")],
    agent: Annotated[str, typer.Option(help="Agent, see `workbench agents`.")],
    task: Annotated[str, typer.Option(help="Task family, see `workbench tasks`.")],
    method: Annotated[str, typer.Option(help=f"One of: {', '.join(METHODS)}.")],
    trials: Annotated[int, typer.Option(help="Lifetimes (trials) the study runs.")],
    steps: Annotated[int, typer.Option(help="Env steps per lifetime.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Searched field name=low:high[:log] (repeatable). Default: discount=0.9:0.999.",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Fixed agent config key=value (repeatable)."),
    ] = None,
    task_set: Annotated[
        list[str] | None,
        typer.Option("--task-set", help="Task parameter key=value (repeatable)."),
    ] = None,
    group: Annotated[str | None, typer.Option(help="Comparison group of the study.")] = None,
    pruner: Annotated[str, typer.Option(help=f"One of: {', '.join(PRUNERS)}.")] = "none",
    sampler: Annotated[
        str, typer.Option(help=f"Sampler of method bayes: {', '.join(SAMPLERS)}.")
    ] = "tpe",
    seed: Annotated[int, typer.Option(help="Base seed: trial n trains with seed + n.")] = 0,
    prune_after: Annotated[
        int,
        typer.Option(help="Env steps before which the pruner sees no evaluation (0: none)."),
    ] = 0,
    population: Annotated[
        int,
        typer.Option(
            help="Trials a worker trains at once as one population, unless `study run "
            "--population` says otherwise."
        ),
    ] = 1,
    storage: StorageOpt = None,
    home: Home = None,
) -> None:
    """Create a study with all its trials queued; `study run NAME` trains them."""
    spec = StudySpec.from_cli(
        agent=agent,
        task=task,
        method=method,
        trials=trials,
        steps=steps,
        params=param,
        fixed=parse_assignments(set_, "--set"),
        task_params=parse_assignments(task_set, "--task-set"),
        group=group,
        pruner=pruner,
        sampler=sampler,
        seed=seed,
        population=population,
        prune_after=prune_after,
    )
    made = service.create_study(open_store(home), name, spec, storage)
    if made.password_dropped:
        console.print(
            "The workbench keeps this storage's URL without its password: commands that "
            "name the study without --storage take it from PGPASSWORD or ~/.pgpass."
        )
    where = f" in {made.storage}" if made.elsewhere else ""
    if made.created:
        console.print(
            f"Created study {name}{where}: {spec.method} over "
            f"{', '.join(spec.params) or 'the learned discount'}, {spec.trials} lifetimes of "
            f"{spec.steps} steps. Run it with: workbench study run {name}",
            markup=False,
        )
    else:
        console.print(
            f"Study {name} already exists with these settings; "
            f"`workbench study run {name}` continues it.",
            markup=False,
        )


def _print_line(text: str, worker: int | None) -> None:
    # A trial's line may quote an error or a name: data, never markup.
    if worker is None:
        console.print(text, markup=False)
    else:
        console.print(f"[dim]worker {worker}[/dim] {escape(text)}", highlight=False)


def _run(
    name: str,
    workers: int,
    population: int | None,
    device: str,
    storage: str | None,
    home: Path | None,
    verb: str,
) -> None:
    def begin(before: service.StudySummary) -> None:
        now = before.counts
        size = before.spec.population if population is None else population
        batched = f", each training populations of up to {size}" if size > 1 else ""
        console.print(
            f"{verb} study {name}: {now.done}/{before.spec.trials} lifetimes done, "
            f"{now.running} running elsewhere, {workers} worker(s) here{batched}.",
            markup=False,
        )

    # Ctrl+C, SIGTERM (the TUI's stop, a system shutdown) or `runs stop` on a trial's run
    # stop the trial with a checkpoint and re-queue it; a second Ctrl+C forces it.
    try:
        with StopSignals() as signals:
            after = service.run_study(
                open_store(home),
                name,
                workers=workers,
                population=population,
                device=device,
                storage=storage,
                on_begin=begin,
                on_line=_print_line,
                stop=signals.event,
            )
    except KeyboardInterrupt:
        console.print(
            f"Interrupted; `workbench study resume {name}` continues the study.", markup=False
        )
        raise typer.Exit(130) from None
    if signals.interrupted:
        console.print(f"Interrupted; `workbench study resume {name}` continues the study.")
        raise typer.Exit(130)
    _print_summary(after)


def _print_summary(summary: service.StudySummary) -> None:
    now = summary.counts
    text = f"Study {summary.name}: {now.done}/{summary.spec.trials} lifetimes done"
    if now.failed:
        text += f", {now.failed} failed"
    if now.complete:
        chosen = summary.best_params or {"discount": summary.best_discount}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in chosen.items() if v is not None)
        text += f"; best return {fixed(summary.best_value)} (trial {summary.best_number}: {shown})"
    console.print(text, markup=False)


@app.command("run")
@user_errors
def run_study(
    name: Name,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    population: PopulationOpt = None,
    device: DeviceOpt = "auto",
    storage: StorageOpt = None,
    home: Home = None,
) -> None:
    """Train the study's queued lifetimes until it has all N."""
    _run(name, workers, population, device, storage, home, "Running")


@app.command("resume")
@user_errors
def resume_study(
    name: Name,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    population: PopulationOpt = None,
    device: DeviceOpt = "auto",
    storage: StorageOpt = None,
    home: Home = None,
) -> None:
    """Continue an interrupted study: completed lifetimes are kept, interrupted ones retried."""
    _run(name, workers, population, device, storage, home, "Resuming")


@app.command("worker")
@user_errors
def study_worker(
    name: Name,
    population: PopulationOpt = None,
    device: DeviceOpt = "auto",
    storage: StorageOpt = None,
    home: Home = None,
) -> None:
    """One worker in the foreground: on any machine that reaches the study's storage."""
    with StopSignals() as signals:  # Ctrl+C, SIGTERM: the trial checkpoints, is re-queued
        service.run_worker(
            open_store(home),
            name,
            population=population,
            device=device,
            storage=storage,
            on_line=_print_line,
            stop=signals.event,
        )
    if signals.event.is_set():
        raise typer.Exit(signals.exit_code)


@app.command("rm")
@user_errors
def remove_study(name: Name, storage: StorageOpt = None, home: Home = None) -> None:
    """Delete a study that no worker is running, with its trials and its runs here."""
    deleted = service.remove_study(open_store(home), name, storage)
    console.print(f"Deleted study {name} and its {deleted} run(s).", markup=False)


@app.command("ls")
@user_errors
def list_studies(json_output: JsonFlag = False, home: Home = None) -> None:
    """List studies: method, lifetimes done / total, best return and discount, state."""
    summaries = service.list_studies(open_store(home))
    if json_output:
        print_json([summary.to_json() for summary in summaries])
        return
    if not summaries:
        console.print(
            "No studies yet. Create one with: workbench study create NAME --agent a2c "
            "--task cartpole --method grid --trials 5 --steps 50000"
        )
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in service.LIST_COLUMNS:
        right = column in ("done", "best", "discount")
        table.add_column(column, justify="right" if right else "left")
    for summary in summaries:
        table.add_row(*map(Text, service.list_cells(summary)))  # a name is data, not markup
    console.print(table)


@app.command("show")
@user_errors
def show_study(
    name: Name, json_output: JsonFlag = False, storage: StorageOpt = None, home: Home = None
) -> None:
    """One study: its settings, counts, best trial and every trial."""
    detail = service.study_detail(open_store(home), name, storage, curves=False)
    summary, spec, now = detail.summary, detail.spec, detail.summary.counts
    if json_output:
        print_json(summary.to_json() | {"trials_detail": [t.to_json() for t in detail.trials]})
        return
    console.print(
        f"[bold]{escape(name)}[/bold]  {spec.method} · {spec.agent} on {spec.task} · "
        f"{spec.trials} lifetimes of {spec.steps} steps"
        + (f" · populations of {spec.population}" if spec.population > 1 else "")
        + f" · {summary.state}"
    )
    console.print(
        f"complete {now.complete}, pruned {now.pruned}, failed {now.failed}, running "
        f"{now.running}, queued {now.waiting}; best return {fixed(summary.best_value)} with "
        f"{summary.best_params}",
        markup=False,
    )
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("trial", "state", "return", "discount", "params", "seed", "run"):
        table.add_column(column)
    for t in detail.trials:
        cells = (
            str(t.number),
            t.state,
            fixed(t.value),
            fixed(t.discount, 4),
            ", ".join(f"{k}={v:.4g}" for k, v in t.params.items()) or "-",
            str(t.seed if t.seed is not None else "-"),
            str(t.run_id if t.run_id is not None else "-"),
        )
        table.add_row(*map(Text, cells))
    console.print(table)


app.command("compare")(compare_group)
