"""``workbench study compare GROUP``: each method's choice on fresh lifetimes as a table
(or ``--json``), and with ``--plot`` the same comparison's figures as a PNG or an SVG
(``workbench/service/figures.py``). Registered on the ``study`` sub-app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from workbench.cli.common import (
    Home,
    JsonFlag,
    console,
    err_console,
    open_store,
    print_json,
    user_errors,
)
from workbench.format import fixed, mean_ci
from workbench.service import figures
from workbench.service import studies as service
from workbench.stopping import StopSignals


@user_errors
def compare_group(
    group: Annotated[str, typer.Argument(help="Group given to `study create --group`.")],
    lifetimes: Annotated[
        int, typer.Option(help="Fresh lifetimes re-evaluating each method's choice.")
    ] = 5,
    population: Annotated[
        int | None,
        typer.Option(
            help="Fresh lifetimes trained at once as one batched population. Default: each "
            "study's own (study create --population).",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also write the comparison's figures to this .png or .svg: each method's "
            "return with its 95% CI, that return against the env steps spent, and the "
            "searches' return against discount with the meta-gradient lifetimes' paths.",
            show_default=False,
            metavar="FIG",
        ),
    ] = None,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Each method's chosen discount, re-evaluated on fresh seeds, beside what it cost."""
    if plot is not None:
        figures.check_figure_path(plot)  # before any lifetime trains

    def started(name: str, k: int, run_id: int) -> None:
        if not json_output:
            console.print(
                f"[dim]{escape(name)}: fresh lifetime {k + 1}/{lifetimes} (run {run_id})[/dim]"
            )

    # Ctrl+C or SIGTERM (`runs stop` on a lifetime) stop the training with a checkpoint;
    # the rows then count the lifetimes done, and running the comparison again trains the rest.
    store = open_store(home)
    with StopSignals() as signals:
        rows = service.compare_group(
            store,
            group,
            lifetimes,
            on_start=started,
            stop=signals.event,
            population=population,
        )
    if signals.event.is_set() and not json_output:
        err_console.print(
            f"stopped; `workbench study compare {group}` trains the missing fresh lifetimes"
        )
    if plot is not None:
        figures.write_figure(figures.group_figure(store, group, lifetimes, rows), plot)
    if json_output:
        print_json([row.to_json() for row in rows])
        raise typer.Exit(signals.exit_code)
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title=f"group {escape(group)}: undiscounted return over {lifetimes} fresh lifetimes per "
        "method; lifetimes, env steps and wall time are what the search used",
    )
    columns = ("method", "agent", "gamma", "return (95% CI)", "lifetimes", "env steps", "wall")
    cells = [
        (
            row.method,
            row.agent,
            fixed(row.discount, 4),
            mean_ci(row.return_mean, row.return_ci95),
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
        table.add_row(*map(Text, row_cells))
    console.print(table)
    if plot is not None:
        console.print(Text(f"figures: {plot}"))
    raise typer.Exit(signals.exit_code)
