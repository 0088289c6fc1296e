"""``workbench runs``: list, inspect, stop, resume, follow, export and delete runs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from workbench.cli import run_labels
from workbench.cli.common import (
    Home,
    JsonFlag,
    check_option,
    console,
    fail,
    open_store,
    print_json,
    user_errors,
)
from workbench.export import FORMATS
from workbench.format import fixed
from workbench.records import agent_label
from workbench.service import labels
from workbench.service import populations as population_service
from workbench.service import runs as run_service
from workbench.service.runs import run_json
from workbench.store import ACTIVE, RESUMABLE, STATUSES

app = typer.Typer(help="List, inspect, stop, resume, follow, export and delete runs.")

RunId = Annotated[int, typer.Argument(help="Run id, see `workbench runs ls`.")]
STATUS_STYLE = {
    "queued": "cyan",
    "running": "green",
    "completed": "bold",
    "failed": "red",
    "stopped": "yellow",
    "lost": "magenta",
    "stalled": "bold red",
}


@app.command("ls")
@user_errors
def list_runs(
    status: Annotated[
        list[str] | None, typer.Option(help=f"Only these statuses: {', '.join(STATUSES)}.")
    ] = None,
    population: Annotated[
        int | None, typer.Option(help="Only the members of this population.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only runs carrying this tag (repeat: all of them).")
    ] = None,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """List runs with their status and progress (a population's members: the pop column,
    the population's id, which is its first member's run id)."""
    for value in status or []:
        if value not in STATUSES:
            fail(f"unknown status {value!r}; choose from {', '.join(STATUSES)}")
    runs = open_store(home).list_runs(status)
    if population is not None:
        runs = [run for run in runs if run.population == population]
    if tag:
        runs = labels.with_tag(runs, tag)
    if json_output:
        print_json([run_json(run) for run in runs])
        return
    if not runs and (status or tag or population is not None):
        which = f"No {' or '.join(status)} runs" if status else "No runs"
        console.print(f"{which} match; `workbench runs ls` lists them all.")
        return
    if not runs:
        console.print("No runs yet. Start one with: workbench run dqn cartpole --background")
        return
    # Default names (agent-task-id) repeat other columns; show names only when one is custom.
    named = any(run.name != f"{agent_label(run.agent)}-{run.task}-{run.id}" for run in runs)
    table = {
        "id": [str(run.id) for run in runs],
        "name": [run.name for run in runs] if named else None,
        "agent": [agent_label(run.agent) for run in runs],
        "task": [run.task for run in runs],
        "seed": [str(run.seed) for run in runs],
        "pop": [_population_cell(run) for run in runs]
        if any(run.population is not None for run in runs)
        else None,
        "tags": [" ".join(run.tags) for run in runs] if any(run.tags for run in runs) else None,
        # Runs trained on several machines (workers on a shared store): where each one was.
        "host": [run.host or "-" for run in runs]
        if len({run.host for run in runs if run.host}) > 1
        else None,
        "status": [run.shown_status() for run in runs],
        "done": [f"{100 * run.steps_done / run.total_steps:.0f}%" for run in runs],
        "steps/s": [fixed(run.summary.get("steps_per_second"), 0) for run in runs],
        "return": [fixed(run.summary.get("last_return"), 1) for run in runs],
        "eval": [fixed(run.summary.get("eval_return_mean"), 1) for run in runs],
    }
    columns = {name: cells for name, cells in table.items() if cells is not None}
    console.print("\n".join(text_table(columns, console.width)), highlight=False, soft_wrap=True)


def _population_cell(run) -> str:
    return "-" if run.population is None else str(run.population)


NUMERIC = ("id", "seed", "pop", "done", "steps/s", "return", "eval")
DROP_FIRST = ("steps/s", "host", "seed", "done", "pop", "tags")
"""Columns `runs ls` leaves out, in this order, when the terminal is too narrow; then the
name and task columns are cut short. The return and eval columns always stay."""
SHORTENED = ("name", "task")
GAP = "  "


def text_table(columns: dict[str, list[str]], width: int) -> list[str]:
    """Lines of a plain table (header, rule, rows) that fits ``width`` terminal columns,
    with the status cells in their colour (rich markup). Drawn by hand: rich's Table
    measures every cell and takes most of a second on 500 runs."""
    columns = dict(columns)
    widths = {name: max(len(name), *map(len, cells)) for name, cells in columns.items()}

    def total() -> int:
        return sum(widths.values()) + len(GAP) * (len(widths) - 1)

    for name in DROP_FIRST:
        if total() <= width:
            break
        columns.pop(name, None)
        widths.pop(name, None)
    for name in SHORTENED:
        if name in widths and total() > width:
            widths[name] = max(len(name), 4, widths[name] - (total() - width))
    lines = [
        GAP.join(_cell(name, name, widths[name]) for name in columns),
        GAP.join("─" * widths[name] for name in columns),
    ]
    for index in range(len(next(iter(columns.values())))):
        cells = []
        for name, values in columns.items():
            text = _cell(values[index], name, widths[name])
            if name == "status":
                text = f"[{STATUS_STYLE[values[index].split()[0]]}]{text}[/]"
            cells.append(text)
        lines.append(GAP.join(cells).rstrip())
    lines[0] = f"[bold]{lines[0].rstrip()}[/]"
    return lines


def _cell(value: str, column: str, width: int) -> str:
    if len(value) > width:
        value = value[: width - 1] + "…"
    text = value.rjust(width) if column in NUMERIC else value.ljust(width)
    return escape(text)


@app.command()
@user_errors
def show(run_id: RunId, json_output: JsonFlag = False, home: Home = None) -> None:
    """Show one run: status, progress, config and summary."""
    store = open_store(home)
    run = store.get_run(run_id)
    if json_output:
        print_json(run_json(run) | {"metric_keys": store.metric_keys(run_id)})
        return
    shown = run.shown_status()
    style = STATUS_STYLE[shown.split()[0]]
    # A name (and any text a user gave) is data: escaped, never read as markup.
    console.print(
        f"[bold]run {run.id}[/] {escape(run.name)}  [{style}]{shown}[/]",
        highlight=False,
        soft_wrap=True,  # a long name is not cut into lines
    )
    if run.stalled_for() is not None:
        console.print(
            f"  its worker (pid {run.pid} on {run.host}) exists but has not beaten its heartbeat "
            f"(frozen, e.g. by SIGSTOP?); `kill -CONT {run.pid}` wakes it, or once it ends the "
            f"run is lost and `workbench runs resume {run.id}` continues it",
            markup=False,
        )
    console.print(f"  {run.agent} on {run.task}, seed {run.seed}", markup=False)
    if run.tags:
        console.print(f"  tags: {' '.join(run.tags)}", markup=False, soft_wrap=True)
    if run.note:
        console.print(f"  note: {run.note}", markup=False, soft_wrap=True)
    if run.population is not None:
        members = store.population_runs(run.population)
        console.print(
            f"  member {[m.id for m in members].index(run.id) + 1} of {len(members)} of "
            f"population {run.population} (one process trains them; `workbench runs ls "
            f"--population {run.population}`)"
        )
    if run.device:
        console.print(f"  device: {run.device}", markup=False)
    if run.init_from is not None:
        which = run.init_checkpoint or "last"
        console.print(f"  networks started from run {run.init_from}'s {which} checkpoint")
    console.print(
        f"  steps {run.steps_done}/{run.total_steps}, checkpoint at {run.checkpoint_step}"
    )
    if run.error:
        console.print(f"  error: {run.error}", markup=False, soft_wrap=True)
    console.print(f"  config: {json.dumps(run.config)}", markup=False)
    if run.task_params:
        console.print(f"  task: {json.dumps(run.task_params)}", markup=False)
    for key, value in run.summary.items():
        shown = fixed(value, 2) if isinstance(value, float) else value
        console.print(f"  {key}: {shown}", markup=False)
    if run.best_checkpoint_path:
        console.print(
            f"  best checkpoint: step {run.best_checkpoint_step} (eval return "
            f"{fixed(run.summary.get('best_eval_return_mean'), 2)}); "
            f"eval --checkpoint best, run --init-checkpoint best"
        )
    console.print(f"  log: {store.log_path(run_id)}", markup=False)


RunIds = Annotated[
    list[int] | None, typer.Argument(help="Run ids, see `workbench runs ls`.", show_default=False)
]
PopulationOption = Annotated[
    int | None,
    typer.Option(help="Every member of this population (its id: `runs ls`'s pop column)."),
]


def _chosen(store, run_ids: list[int] | None, population: int | None) -> list[int]:
    """The runs named by ids or by ``--population`` (exactly one of the two)."""
    if bool(run_ids) == (population is not None):
        fail("give run ids or --population POP (one of the two)")
    if population is not None:
        return population_service.member_ids(store, population)
    return list(dict.fromkeys(run_ids or []))


@app.command()
@user_errors
def stop(
    run_ids: RunIds = None,
    population: PopulationOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the worker.")] = 10.0,
    home: Home = None,
) -> None:
    """Stop queued or running runs; each checkpoints and can be resumed. A member of a
    population stops alone (the others go on); --population stops every active member."""
    check_option("--wait", wait, 0, 3600)
    store = open_store(home)
    chosen = _chosen(store, run_ids, population)
    if population is not None:
        chosen = [r.id for r in store.get_runs(chosen) if r.status in ACTIVE] or chosen[:1]
    asked = set()
    if len(chosen) > 1:  # every flag first: the members stop at the same report
        for run in store.get_runs(chosen):
            if run.status in ACTIVE:
                store.request_stop(run.id)
                asked.add(run.id)
    for run_id in chosen:
        run = store.get_run(run_id)
        if run_id not in asked or run.status in ACTIVE:  # not already stopped by its flag
            run = run_service.stop_run(store, run_id, wait=wait)
        if run.status == "running":
            console.print(
                f"run {run_id} was asked to stop and is still finishing; "
                f"check `workbench runs show {run_id}`"
            )
        else:
            console.print(
                f"run {run_id} {run.status} at step {run.steps_done} "
                f"(checkpoint at {run.checkpoint_step})"
            )


@app.command()
@user_errors
def resume(run_ids: RunIds = None, population: PopulationOption = None, home: Home = None) -> None:
    """Continue stopped, failed or lost runs from their last checkpoints, in the
    background. Several ids (or --population POP: its members that can resume) train in
    ONE worker process, as populations: members at the same checkpoint step together,
    and groups at different steps one after another."""
    store = open_store(home)
    chosen = _chosen(store, run_ids, population)
    if population is not None:
        resumable = [r.id for r in store.get_runs(chosen) if r.status in RESUMABLE]
        chosen = resumable or chosen[:1]  # none: the first says why it cannot resume
    for run in population_service.resume_runs(store, chosen):
        if run.notice:  # the last checkpoint was damaged: which one it resumes from instead
            console.print(
                f"{run.notice}, in the background; follow it with: workbench runs logs "
                f"{run.id} --follow",
                markup=False,
                soft_wrap=True,
            )
            continue
        console.print(
            f"run {run.id} resumed from step {run.checkpoint_step} of {run.total_steps} "
            f"in the background; follow it with: workbench runs logs {run.id} --follow"
        )


@app.command()
@user_errors
def logs(
    run_id: RunId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")
    ] = False,
    home: Home = None,
) -> None:
    """Print a run's log; with --follow, keep printing new lines while it is active."""
    store = open_store(home)
    store.get_run(run_id)
    path = store.log_path(run_id)
    position = 0
    while True:
        position = _print_from(path, position)
        if not follow or store.get_run(run_id).status not in ACTIVE:
            break
        time.sleep(0.5)
    _print_from(path, position)


def _print_from(path: Path, position: int) -> int:
    if not path.exists():
        return position
    with path.open("rb") as handle:
        handle.seek(position)
        data = handle.read()
    sys.stdout.write(data.decode(errors="replace"))
    sys.stdout.flush()
    return position + len(data)


@app.command()
@user_errors
def export(
    run_ids: Annotated[list[int], typer.Argument(help="Run ids, see `workbench runs ls`.")],
    format: Annotated[
        str, typer.Option("--format", help="csv, json, parquet or tensorboard.")
    ] = "csv",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File (a folder for tensorboard); default stdout."),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="One run as a row per step, a column per key.")
    ] = False,
    home: Home = None,
) -> None:
    """Export runs' metrics: long format (run, key, step, wall_time, value) as csv, json
    or parquet, or TensorBoard event files (one sub-directory per run: `tensorboard
    --logdir DIR`). --wide: one run's table, csv or json."""
    formats = ("csv", "json") if wide else FORMATS
    if format not in formats:  # before creating a store
        fail(f"--format must be one of {', '.join(formats)}, got {format!r}")
    store = open_store(home)
    if wide:
        if len(run_ids) != 1:
            fail("--wide exports one run; drop it to export several in long format")
        if output is None:
            sys.stdout.write(run_service.export_run(store, run_ids[0], format).text)
        else:
            exported = run_service.export_run_to(store, run_ids[0], output, format)
            console.print(f"wrote {exported.steps} steps × {exported.keys} metrics to {output}")
        return
    done = run_service.export_runs(store, run_ids, format, output)
    if done.text is not None:
        sys.stdout.write(done.text)
        return
    where = output if format != "tensorboard" else f"{output} (tensorboard --logdir {output})"
    console.print(
        f"wrote {done.rows} metric rows of {done.runs} run(s) to {where}",
        markup=False,
        soft_wrap=True,
    )


@app.command("rm")
@user_errors
def remove(run_id: RunId, home: Home = None) -> None:
    """Delete a run that is not active, with its metrics, checkpoints (last and best) and
    log."""
    run = run_service.delete_run(open_store(home), run_id)
    console.print(f"deleted run {run.id} ({run.name})", markup=False)


for command in (run_labels.rename, run_labels.tag, run_labels.untag, run_labels.note):
    app.command()(command)
