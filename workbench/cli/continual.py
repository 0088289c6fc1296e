"""``workbench report continual``: RA and BTI of continual learners over seeds, and one
run's accuracy matrix, from the run store (missing runs are trained first)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from workbench.cli.common import (
    Home,
    JsonFlag,
    console,
    open_store,
    parse_assignments,
    print_json,
    user_errors,
)

DEFAULT_LEARNERS = "online-sgd,er,c-maml,sync,la-maml"


@user_errors
def continual(
    task: Annotated[str, typer.Argument(help="Continual task: digits-permuted or digits-rotated.")],
    learners: Annotated[
        str, typer.Option(help="Comma-separated learners, each a row.")
    ] = DEFAULT_LEARNERS,
    seeds: Annotated[str, typer.Option(help="Seeds of each learner, e.g. 0-4 or 0,3,7.")] = "0-4",
    task_set: Annotated[
        list[str] | None,
        typer.Option("--task-set", help="Task parameter key=value (repeatable)."),
    ] = None,
    train: Annotated[
        bool, typer.Option(help="Train the missing runs here first (--no-train only reads).")
    ] = True,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Retained accuracy (RA) and backward transfer and interference (BTI) +- 95% CI per
    learner over SEEDS, and the accuracy matrix of the first learner's first seed.

    Each (learner, seed) is the latest completed run with the learner's default config and
    these task parameters; missing ones are trained first, one after another.
    """
    from workbench.service.continual import continual_report, report_json
    from workbench.service.populations import parse_seeds

    names = [name.strip() for name in learners.split(",") if name.strip()]
    seed_list = parse_seeds(seeds)
    store = open_store(home)

    def announce(learner: str, seed: int, run_id: int) -> None:
        if not json_output:
            console.print(f"training run {run_id}: {learner} on {task}, seed {seed}", markup=False)

    report = continual_report(
        store,
        task,
        names,
        seed_list,
        task_values=parse_assignments(task_set, "--task-set"),
        train=train,
        on_train=announce,
    )
    if json_output:
        print_json(report_json(report))
        return
    params = report.task_params
    table = Table(
        title=f"{task}: {params['num_tasks']} tasks of {params['samples_per_task']} samples, "
        f"single pass, batches of {params['batch_size']}; {len(report.seeds)} seeds, "
        "mean +- 95% CI (%)",
        title_justify="left",
        box=box.SIMPLE,
    )
    for column in ("learner", "RA", "BTI", "runs"):
        table.add_column(column, justify="left" if column in ("learner", "runs") else "right")
    for row in report.rows:
        table.add_row(
            row.learner,
            f"{100 * row.ra:.1f} +- {100 * row.ra_ci95:.1f}",
            f"{100 * row.bti:+.1f} +- {100 * row.bti_ci95:.1f}",
            ",".join(str(run) for run in row.runs),
        )
    console.print(table)
    first = report.rows[0]
    console.print(
        f"accuracy (%) of run {report.matrix_run} ({first.learner}, seed {report.seeds[0]}): "
        "row = tasks learnt, column = task evaluated",
        markup=False,
    )
    # Plain fixed-width lines: 20 tasks fit in 86 columns, and a narrower terminal
    # scrolls them instead of eliding every cell.
    width = max(len(row) for row in report.matrix)
    console.print("after " + "".join(f"{j:>4}" for j in range(width)), markup=False, soft_wrap=True)
    for t, row in enumerate(report.matrix):
        cells = "".join(f"{100 * acc:>4.0f}" for acc in row)
        console.print(f"{t:>5} {cells}", markup=False, soft_wrap=True)
