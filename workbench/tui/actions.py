"""What the TUI's keys do to runs and studies, as plain functions that return the line to
show (no Textual here; screens call them from worker threads, never on the UI thread).

Each function opens its own store connection, so any thread may call it, and calls the
service layer (``workbench.service``) for the change itself: the TUI and the CLI change
runs and studies the same way. This is the one place the TUI changes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envs.errors import UserError
from workbench.service import labels, plots, runs, studies
from workbench.store import Store, StoreError


def stop_run(home: Path, run_id: int) -> str:
    with Store(home) as store:
        run = runs.stop_run(store, run_id)
        return f"run {run_id} {run.status} at step {run.steps_done}"


def resume_run(home: Path, run_id: int) -> str:
    with Store(home) as store:
        run = runs.resume_run(store, run_id)
        return run.notice or f"run {run_id} resumed from step {run.checkpoint_step}"


def control_runs(home: Path, action: str, run_ids: list[int]) -> str:
    """Stop or resume each run; one line with each outcome (a refusal does not stop the
    others)."""
    do = stop_run if action == "stop" else resume_run
    lines = []
    for run_id in run_ids:
        try:
            lines.append(do(home, run_id))
        except UserError as err:
            lines.append(str(err))
    return "; ".join(lines)


def delete_runs(home: Path, run_ids: list[int]) -> tuple[list[int], str]:
    """The runs deleted, and the line saying so (with each refusal)."""
    store = Store(home)
    deleted, refused = [], []
    try:
        for run_id in run_ids:
            try:
                runs.delete_run(store, run_id)
                deleted.append(run_id)
            except UserError as err:
                refused.append(str(err))
    finally:
        store.close()
    return deleted, "; ".join([f"deleted {len(deleted)} run(s)"] * bool(deleted) + refused)


def names(paths: list[Path]) -> str:
    """The files written, by name, in their one folder: `DIR/run-1.csv, run-2.csv`."""
    if not paths:
        return ""
    return f"{paths[0]}" + "".join(f", {path.name}" for path in paths[1:])


def export_runs(home: Path, run_ids: list[int]) -> str:
    """Each run's metrics to HOME/exports/run-ID.csv (a row per step, a column per key)."""
    store = Store(home)
    written = []
    try:
        for run_id in run_ids:
            path = home / "exports" / f"run-{run_id}.csv"
            runs.export_run_to(store, run_id, path, "csv")
            written.append(path)
    finally:
        store.close()
    return f"exported {len(written)} run(s) to {names(written)}"


def set_labels(home: Path, run_id: int, name: str, tags: str, note: str) -> str:
    """Give run ``run_id`` this name, exactly these tags (typed in one line) and note;
    all three are checked before any is written."""
    wanted = labels.parse_tags(tags) if tags.strip() else []
    labels.check_name(name)
    labels.check_note(note)
    with Store(home) as store:
        run = store.get_run(run_id)
        if name != run.name:
            labels.rename(store, run_id, name)
        gone = [t for t in run.tags if t not in wanted]
        if gone:
            labels.untag(store, run_id, gone)
        if wanted:
            labels.tag(store, run_id, wanted)
        run = labels.set_note(store, run_id, note)
    return f"run {run_id}: saved its name, {len(run.tags)} tag(s) and note"


def save_plot(
    home: Path,
    run_ids: list[int],
    metric: str,
    smooth: float,
    x: str,
    group_by: str | None,
    kind: str,
) -> str:
    """What a view plots, drawn by `workbench plot`'s code to HOME/exports/plot-....KIND."""
    folder = home / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    runs_part = "-".join(map(str, run_ids[:8])) + ("-etc" if len(run_ids) > 8 else "")
    safe = "".join(c if c.isalnum() else "_" for c in metric)
    path = folder / f"plot-{runs_part}-{safe}-{x}.{kind}"
    with Store(home) as store:
        figure = plots.run_plot(store, run_ids, metric, smooth=smooth, group_by=group_by, x=x)
    plots.write_plot(figure, path)
    return f"saved the plot to {path}"


def export_tensorboard(home: Path, run_ids: list[int]) -> str:
    """The runs' metrics as TensorBoard event files, HOME/exports/tensorboard/run-ID/."""
    folder = home / "exports" / "tensorboard"
    with Store(home) as store:
        done = runs.export_runs(store, run_ids, "tensorboard", folder)
    return f"exported {done.runs} run(s) to {folder} (tensorboard --logdir {folder})"


def export_table(home: Path, name: str, columns: list[str], rows: list[list[Any]]) -> str:
    """A table to HOME/exports/NAME.csv and NAME.json."""
    from workbench.export import write_table

    paths = write_table(home / "exports", name, columns, rows)
    return f"wrote {len(rows)} rows to {paths[0]} and {paths[1]}"


def launch_runs(
    home: Path,
    seeds: list[int],
    *,
    agent: str,
    task: str,
    config: dict[str, Any],
    task_params: dict[str, Any],
    steps: int,
    init_from: int | None = None,
) -> list[int]:
    """Queue one run per seed and start its worker; the ids, in seed order. On an error
    the exception says which runs were launched before it."""
    ids: list[int] = []
    settings = runs.check_settings(
        agent, task, agent_values=config, task_values=task_params, steps=steps
    )
    store = Store(home)
    try:
        for seed in seeds:
            run_id = runs.create_run(store, settings, steps=steps, seed=seed, init_from=init_from)
            runs.start_background(store, run_id)
            ids.append(run_id)
    except (StoreError, OSError) as err:  # a locked or unwritable store, no python...
        done = f" (runs {', '.join(map(str, ids))} were launched)" if ids else ""
        raise StoreError(f"could not launch: {err}{done}") from err
    finally:
        store.close()
    return ids


def create_study(home: Path, name: str, spec) -> str:
    """Create the study in the home's storage with its N lifetimes queued."""
    with Store(home) as store:
        created = studies.create_study(store, name, spec)
    return f"created study {created.name}; u runs it"


def run_study(home: Path, name: str) -> str:
    """`workbench study run NAME` detached (closing the UI leaves it running)."""
    with Store(home) as store:
        log = studies.start_study(store, name)
    return f"running study {name} in the background (log: {log})"


def stop_study(home: Path, name: str) -> str:
    """Ask the study's active runs in this store to stop (their trials are queued again)."""
    with Store(home) as store:
        stopped = studies.stop_study(store, name)
    if stopped:
        return f"asked run(s) {', '.join(map(str, stopped))} to stop"
    return f"study {name} has no active runs here"


def train_group(home: Path, group: str, lifetimes: int) -> str:
    """`workbench study compare GROUP` detached: trains the missing fresh lifetimes."""
    with Store(home) as store:
        log = studies.start_group_training(store, group, lifetimes)
    return f"training in the background (log: {log})"
