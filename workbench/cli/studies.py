"""``workbench study``: create, run, resume and compare discount studies (studies/)."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from sqlalchemy.engine import make_url

from studies.catalog import LIST_COLUMNS, known_studies, list_cells, study_summary
from studies.storage import STORAGE_ENV, default_url, masked, open_storage, without_password
from studies.study import METHODS, PRUNERS, SAMPLERS, StudySpec, counts, create, find, load
from studies.worker import format_outcome, work
from workbench.cli.common import (
    Home,
    JsonFlag,
    console,
    fail,
    open_store,
    parse_assignments,
    print_json,
    user_errors,
)
from workbench.store import Store

app = typer.Typer(help="Create, run, resume and compare discount studies (Optuna).")

Name = Annotated[str, typer.Argument(help="Study name, see `workbench study ls`.")]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Database URL of the study (e.g. postgresql://user@host/db). "
        "Default: the workbench's own SQLite file, or where the study was created.",
        show_default=False,
    ),
]


def _url(store: Store, name: str | None, storage: str | None) -> str:
    """Explicit --storage, else where this study was created, else the workbench file."""
    if storage:
        return storage
    if name is not None and name in (remembered := store.study_storages()):
        return remembered[name]
    return default_url(store.home)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


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
    )
    store = open_store(home)
    url = _url(store, name, storage)
    created = create(open_storage(url), name, spec)
    if url != default_url(store.home):
        store.remember_study_storage(name, without_password(url))
        if make_url(url).password:
            console.print(
                "The workbench keeps this storage's URL without its password: commands that "
                "name the study without --storage take it from PGPASSWORD or ~/.pgpass."
            )
    where = "" if url == default_url(store.home) else f" in {masked(url)}"
    if created:
        console.print(
            f"Created study {name}{where}: {spec.method} over "
            f"{', '.join(spec.params) or 'the learned discount'}, {spec.trials} lifetimes of "
            f"{spec.steps} steps. Run it with: workbench study run {name}"
        )
    else:
        console.print(
            f"Study {name} already exists with these settings; "
            f"`workbench study run {name}` continues it."
        )


def _run_workers(name: str, url: str, home: Path, workers: int) -> None:
    """W worker processes, their lines relayed; Ctrl+C stops them (trials re-queued)."""
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "studies.worker",
                name,
                "--home",
                str(home),
                "--index",
                str(index),
                "--die-with-parent",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=os.environ | {STORAGE_ENV: url},
        )
        for index in range(workers)
    ]
    selector = selectors.DefaultSelector()
    for index, process in enumerate(processes):
        selector.register(process.stdout, selectors.EVENT_READ, index)
    open_pipes = len(processes)
    try:
        while open_pipes:
            for key, _ in selector.select():
                line = key.fileobj.readline()
                if not line:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
                    continue
                console.print(f"[dim]worker {key.data}[/dim] {line.rstrip()}", highlight=False)
    except KeyboardInterrupt:
        for process in processes:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait()
    failed = [i for i, p in enumerate(processes) if p.returncode not in (0, -signal.SIGTERM)]
    if failed:
        fail(f"worker(s) {', '.join(map(str, failed))} exited with an error (see above)")


def _run(name: str, workers: int, storage: str | None, home: Path | None, verb: str) -> None:
    if workers < 1:
        fail(f"--workers {workers}: give at least 1")
    store = open_store(home)
    url = _url(store, name, storage)
    study, spec = load(open_storage(url), name)
    before = counts(study)
    console.print(
        f"{verb} study {name}: {before.done}/{spec.trials} lifetimes done, "
        f"{before.running} running elsewhere, {workers} worker(s) here."
    )
    try:
        if workers == 1:
            # SIGTERM (the TUI's stop, a system shutdown) stops the trial with a checkpoint
            # and re-queues it, as Ctrl+C does.
            stop_event = threading.Event()
            signal.signal(signal.SIGTERM, lambda signum, frame: stop_event.set())
            work(
                name,
                url,
                store.home,
                on_outcome=lambda o: console.print(format_outcome(o)),
                stop_event=stop_event,
            )
        else:
            _run_workers(name, url, store.home, workers)
    except KeyboardInterrupt:
        console.print(f"Interrupted; `workbench study resume {name}` continues the study.")
        raise typer.Exit(130) from None
    _print_summary(name, url)


def _print_summary(name: str, url: str) -> None:
    study, spec = load(open_storage(url), name)
    now = counts(study)
    text = f"Study {name}: {now.done}/{spec.trials} lifetimes done"
    if now.failed:
        text += f", {now.failed} failed"
    if now.complete:
        best = study.best_trial
        chosen = best.params or {"discount": best.user_attrs.get("discount")}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in chosen.items() if v is not None)
        text += f"; best return {best.value:.2f} (trial {best.number}: {shown})"
    console.print(text)


@app.command("run")
@user_errors
def run_study(
    name: Name,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    storage: StorageOpt = None,
    home: Home = None,
) -> None:
    """Train the study's queued lifetimes until it has all N."""
    _run(name, workers, storage, home, "Running")


@app.command("resume")
@user_errors
def resume_study(
    name: Name,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    storage: StorageOpt = None,
    home: Home = None,
) -> None:
    """Continue an interrupted study: completed lifetimes are kept, interrupted ones retried."""
    _run(name, workers, storage, home, "Resuming")


@app.command("worker")
@user_errors
def study_worker(
    name: Name,
    storage: StorageOpt = None,
    home: Home = None,
) -> None:
    """One worker in the foreground: on any machine that reaches the study's storage."""
    store = open_store(home)
    url = _url(store, name, storage)
    load(open_storage(url), name)  # a clear error now rather than in the loop
    store.close()
    work(
        name,
        url,
        home,
        worker_index=os.getpid(),
        on_outcome=lambda o: console.print(format_outcome(o)),
    )


@app.command("rm")
@user_errors
def remove_study(name: Name, storage: StorageOpt = None, home: Home = None) -> None:
    """Delete a study that no worker is running, with its trials and its runs here."""
    import optuna

    store = open_store(home)
    url = _url(store, name, storage)
    study, _ = load(open_storage(url), name)
    if counts(study).running:
        fail(f"study {name} has running trials; stop its workers first (Ctrl+C on `study run`)")
    runs = store.study_runs(name)
    active = [run.id for run in runs if run.status in ("queued", "running")]
    if active:
        fail(f"runs {', '.join(map(str, active))} of study {name} are active; stop them first")
    for run in runs:
        store.delete_run(run.id)
    optuna.delete_study(study_name=name, storage=open_storage(url))
    store.forget_study_storage(name)
    console.print(f"Deleted study {name} and its {len(runs)} run(s).")


@app.command("ls")
@user_errors
def list_studies(json_output: JsonFlag = False, home: Home = None) -> None:
    """List studies: method, lifetimes done / total, best return and discount, state."""
    store = open_store(home)
    rows = [study_summary(name, url) for name, url in known_studies(store)]
    if json_output:
        print_json(rows)
        return
    if not rows:
        console.print(
            "No studies yet. Create one with: workbench study create NAME --agent a2c "
            "--task cartpole --method grid --trials 5 --steps 50000"
        )
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in LIST_COLUMNS:
        right = column in ("done", "best", "discount")
        table.add_column(column, justify="right" if right else "left")
    for row in rows:
        table.add_row(*list_cells(row))
    console.print(table)


@app.command("show")
@user_errors
def show_study(
    name: Name, json_output: JsonFlag = False, storage: StorageOpt = None, home: Home = None
) -> None:
    """One study: its settings, counts, best trial and every trial."""
    store = open_store(home)
    url = _url(store, name, storage)
    study, _ = load(open_storage(url), name)  # one clear line if it cannot be reached
    summary = study_summary(name, url)
    trials = [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "params": t.params,
            "discount": t.user_attrs.get("discount"),
            "seed": t.user_attrs.get("seed"),
            "run_id": t.user_attrs.get("run_id"),
            "env_steps": t.user_attrs.get("env_steps"),
            "retry_of": t.system_attrs.get("failed_trial"),
        }
        for t in study.get_trials(deepcopy=False)
    ]
    if json_output:
        print_json(summary | {"trials_detail": trials})
        return
    console.print(
        f"[bold]{name}[/bold]  {summary['method']} · {summary['agent']} on {summary['task']} · "
        f"{summary['trials']} lifetimes of {summary['steps']} steps · {summary['state']}"
    )
    console.print(
        f"complete {summary['n_complete']}, pruned {summary['n_pruned']}, failed "
        f"{summary['n_failed']}, running {summary['n_running']}, queued {summary['n_waiting']}; "
        f"best return {_fmt(summary['best_value'])} with {summary['best_params']}"
    )
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("trial", "state", "return", "discount", "params", "seed", "run"):
        table.add_column(column)
    for t in trials:
        table.add_row(
            str(t["number"]),
            t["state"],
            _fmt(t["value"]),
            _fmt(t["discount"], 4),
            ", ".join(f"{k}={v:.4g}" for k, v in t["params"].items()) or "-",
            str(t["seed"] if t["seed"] is not None else "-"),
            str(t["run_id"] if t["run_id"] is not None else "-"),
        )
    console.print(table)


@app.command("compare")
@user_errors
def compare_group(
    group: Annotated[str, typer.Argument(help="Group given to `study create --group`.")],
    lifetimes: Annotated[
        int, typer.Option(help="Fresh lifetimes re-evaluating each method's choice.")
    ] = 5,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Each method's chosen discount, re-evaluated on fresh seeds, beside what it cost."""
    from studies.compare import compare_row

    if lifetimes < 1:
        fail(f"--lifetimes {lifetimes}: give at least 1")
    store = open_store(home)
    known = known_studies(store)
    storages = {url: open_storage(url) for url in {url for _, url in known}}  # each opened once
    specs = [(name, url, find(storages[url], name)) for name, url in known]
    members = [(name, url) for name, url, spec in specs if spec and spec.group == group]
    if not members:
        groups = sorted({spec.group for _, _, spec in specs if spec and spec.group})
        fail(
            f"no study in group {group!r}; groups: {', '.join(groups) or 'none yet'} "
            "(set with `study create --group`)"
        )
    rows = []
    for name, url in members:
        study, spec = load(storages[url], name)

        def started(k: int, run_id: int, name: str = name) -> None:
            if not json_output:
                console.print(
                    f"[dim]{name}: fresh lifetime {k + 1}/{lifetimes} (run {run_id})[/dim]"
                )

        rows.append(compare_row(study, spec, store, lifetimes, started))
    if json_output:
        print_json([row.to_json() for row in rows])
        return
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title=f"group {group}: undiscounted return over {lifetimes} fresh lifetimes per method; "
        "lifetimes, env steps and wall time are what the search used",
    )
    columns = ("method", "agent", "gamma", "return (95% CI)", "lifetimes", "env steps", "wall")
    cells = [
        (
            row.method,
            row.agent,
            _fmt(row.discount, 4),
            "-" if row.return_mean is None else f"{row.return_mean:.2f} ± {row.return_ci95:.2f}",
            str(row.lifetimes),
            f"{row.env_steps:,}",
            f"{row.wall_s:.0f} s",
        )
        for row in rows
    ]
    for i, column in enumerate(columns):
        width = max(len(column), *(len(c[i]) for c in cells))  # the whole table fits 80 columns
        left = column in ("method", "agent")
        table.add_column(column, justify="left" if left else "right", min_width=width)
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)
