"""What a command that trains in the foreground shows: the progress bar of a run or of a
population (one bar: aggregate env-steps/s, members done, best and median recent return),
the line it ends with, and a population's table of its members' evaluations."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.cli.common import console, err_console, print_json
from workbench.format import fixed
from workbench.service import populations as population_service
from workbench.service import runs as run_service
from workbench.stopping import StopSignals

if TYPE_CHECKING:
    from workbench.runner import Progress as RunProgress
    from workbench.store import RunRecord, Store


def say_stopping() -> None:
    err_console.print("stopping with a checkpoint (Ctrl+C again to force)")


def report_foreground(
    record: RunRecord, wall: float, json_output: bool, signals: StopSignals
) -> None:
    summary = record.summary
    if json_output:
        print_json(
            {
                "id": record.id,
                "status": record.status,
                "steps_done": record.steps_done,
                "total_steps": record.total_steps,
                "checkpoint_step": record.checkpoint_step,
                "wall_seconds": round(wall, 2),
                "eval_return_mean": summary.get("eval_return_mean"),
                "eval_return_std": summary.get("eval_return_std"),
                "eval_return_ci95": summary.get("eval_return_ci95"),
                "best_eval_return_mean": summary.get("best_eval_return_mean"),
                "best_eval_step": summary.get("best_eval_step"),
                "error": record.error,
            }
        )
        return
    from workbench.runner import eval_text

    if record.status == "completed":
        console.print(
            f"run {record.id} completed in {wall:.1f} s: eval return {eval_text(summary)}"
        )
    elif record.status == "stopped":
        console.print(stopped_line(record, signals), highlight=False)
    else:
        err_console.print(f"run {record.id} {record.status}: {record.error}", markup=False)


def stopped_line(record: RunRecord, signals: StopSignals) -> str:
    """How a foreground run stopped, and exactly which step a resume starts from."""
    how = "interrupted" if signals.interrupted else "stopped (runs stop or SIGTERM)"
    checkpoint, steps = record.checkpoint_step, record.steps_done
    if checkpoint == 0:
        start = "a resume starts from the beginning (no checkpoint yet)"
    elif checkpoint == steps:
        start = f"a resume starts from step {checkpoint}, its checkpoint"
    else:
        start = (
            f"a resume starts from step {checkpoint}, its last checkpoint "
            f"(the {steps - checkpoint} steps after it are trained again)"
        )
    if checkpoint < steps:  # only a forced stop (a second Ctrl+C) takes no checkpoint
        start = f"forced; {start}"
    return f"run {record.id} {how} at step {steps}; {start}: workbench runs resume {record.id}"


def run_with_progress(
    store: Store, run_id: int, steps: int, stop_event: threading.Event
) -> RunRecord:
    from rich.progress import Progress

    with Progress(*_bar_columns(), console=err_console, transient=False) as progress:
        bar = progress.add_task(f"run {run_id}", total=steps, speed=0.0, members="", recent="-")

        def update(p: RunProgress) -> None:
            recent = fixed(p.recent_return, 1)
            progress.update(bar, completed=p.step, speed=p.steps_per_second, recent=recent)

        return run_service.train_foreground(
            store, run_id, on_progress=update, stop_event=stop_event
        )


def _bar_columns() -> list:
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>7.0f}/{task.total:.0f} steps"),
        TextColumn("{task.fields[speed]:>6.0f} steps/s"),
        TextColumn("{task.fields[members]}return {task.fields[recent]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]


def train_population(
    store: Store,
    run_ids: list[int],
    steps: int,
    signals: StopSignals,
    *,
    show_progress: bool,
) -> list[RunRecord]:
    """Train the queued members here under one progress bar: aggregate env-steps/s (all
    members'), members done, best and median of their recent returns."""
    if not show_progress:
        return population_service.train_foreground(store, run_ids, stop_event=signals.event)
    from rich.progress import Progress

    latest: dict[int, tuple[int, float, float | None]] = {}
    shown = [0.0]
    with Progress(*_bar_columns(), console=err_console, transient=False) as progress:
        description = f"population {run_ids[0]} ({len(run_ids)} members)"
        bar = progress.add_task(description, total=steps, speed=0.0, members="", recent="-")

        def update(run_id: int, p: RunProgress) -> None:
            latest[run_id] = (p.step, p.steps_per_second, p.recent_return)
            now = time.monotonic()
            if now - shown[0] < 0.1 and p.step < steps:
                return
            shown[0] = now
            step = max(step for step, _, _ in latest.values())
            live = [speed for at, speed, _ in latest.values() if at == step]
            returns = [value for _, _, value in latest.values() if value is not None]
            done = sum(at >= steps for at, _, _ in latest.values())
            recent = (
                f"best {fixed(max(returns), 1)} median {fixed(statistics.median(returns), 1)}"
                if returns
                else "-"
            )
            progress.update(
                bar,
                completed=step,
                speed=sum(live),
                members=f"{done}/{len(run_ids)} done  ",
                recent=recent,
            )

        return population_service.train_foreground(
            store, run_ids, on_progress=update, stop_event=signals.event
        )


def report_population(
    records: Sequence[RunRecord],
    varied: Sequence[str],
    wall: float,
    json_output: bool,
    signals: StopSignals,
) -> None:
    """The members' evaluations: a table, or with ``--json`` a list of objects (id, seed,
    the varied fields, status, eval_return_mean, eval_return_std)."""
    rows = [population_service.member_json(record, varied) for record in records]
    if json_output:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(
        title=f"population {records[0].population or records[0].id}: {len(records)} members, "
        f"{wall:.1f} s",
        title_justify="left",
    )
    for column in ("id", "seed", *varied, "status", "eval return"):
        table.add_column(column, justify="left" if column == "status" else "right")
    for record, row in zip(records, rows, strict=True):
        spread = (
            f" ± {fixed(row['eval_return_std'], 2)}" if row["eval_return_std"] is not None else ""
        )
        table.add_row(
            str(record.id),
            str(record.seed),
            *(str(row[name]) for name in varied),
            record.status,
            f"{fixed(row['eval_return_mean'], 2)}{spread}",
        )
    console.print(table)
    failed = [record for record in records if record.status == "failed"]
    for record in failed:
        err_console.print(f"run {record.id} failed: {record.error}", markup=False)
    stopped = [record for record in records if record.status == "stopped"]
    if stopped:
        how = "interrupted" if signals.interrupted else "stopped"
        ids = " ".join(str(record.id) for record in stopped)
        console.print(
            f"{len(stopped)} members {how}, each with a checkpoint; continue them together "
            f"with: workbench runs resume {ids}",
            highlight=False,
        )


def population_exit_code(records: Sequence[RunRecord], signals: StopSignals) -> int:
    """1 when a member failed; 130 after Ctrl+C, 143 after SIGTERM or when every member
    was stopped (`runs stop`); else 0 (some members stopped alone, the others completed)."""
    if any(record.status == "failed" for record in records):
        return 1
    if signals.interrupted:
        return 130
    if signals.terminated or all(record.status == "stopped" for record in records):
        return 143
    return 0
