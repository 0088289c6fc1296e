"""``workbench report context``: a single-task agent's context modes x seeds on a contextual
family, every run on every evaluation split (missing runs are trained first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from workbench.cli.common import (
    Home,
    JsonFlag,
    check_option,
    console,
    open_store,
    parse_assignments,
    print_json,
    user_errors,
)

if TYPE_CHECKING:
    from workbench.service.context_report import ContextCell, ContextReport

DEFAULT_MODES = "hidden,explicit,learned,predictive,probing"


@user_errors
def context(
    agent: Annotated[str, typer.Argument(help="Agent with context modes (dqn).")],
    task: Annotated[str, typer.Argument(help="Contextual family, e.g. cartpole.")],
    modes: Annotated[str, typer.Option(help="Comma-separated context modes, each a row.")] = (
        DEFAULT_MODES
    ),
    seeds: Annotated[str, typer.Option(help="Seeds of each mode, e.g. 0-4 or 0,3,7.")] = "0-4",
    steps: Annotated[int, typer.Option(help="Environment steps of each run.")] = 50_000,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Agent config key=value for every mode (repeatable)."),
    ] = None,
    task_set: Annotated[
        list[str] | None,
        typer.Option("--task-set", help="Task parameter key=value (repeatable)."),
    ] = None,
    contexts: Annotated[int, typer.Option(help="Contexts of each split per run.")] = 100,
    train: Annotated[
        bool, typer.Option(help="Train the missing runs here first (--no-train only reads).")
    ] = True,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Mean return ± 95% CI over SEEDS of each context mode on each evaluation split.

    Each (mode, seed) is the latest completed run of AGENT on TASK with context=mode, the
    --set values, these task parameters and --steps; missing ones are trained first (a
    mode's seeds as one population). Each run's last checkpoint plays --contexts contexts
    of every split (the contexts of `workbench eval RUN --split NAME`).
    """
    from workbench.service.context_report import context_report, report_json
    from workbench.service.contexts import MAX_CONTEXTS
    from workbench.service.populations import parse_seeds

    check_option("--contexts", contexts, 2, MAX_CONTEXTS)
    mode_list = [mode.strip() for mode in modes.split(",") if mode.strip()]
    seed_list = parse_seeds(seeds)
    store = open_store(home)

    def announce(mode: str, run_ids: list[int]) -> None:
        if not json_output:
            listed = ", ".join(map(str, run_ids))
            console.print(f"training runs {listed}: {agent} context={mode}", markup=False)

    report = context_report(
        store,
        agent,
        task,
        mode_list,
        seed_list,
        steps=steps,
        agent_values=parse_assignments(set_, "--set"),
        task_values=parse_assignments(task_set, "--task-set"),
        contexts=contexts,
        train=train,
        on_train=announce,
    )
    if json_output:
        print_json(report_json(report))
        return
    varied = report.task_params.get("varied") or "every factor"
    console.print(
        f"{agent} on {task} ({varied} varied), {steps:,} steps, {len(report.seeds)} seeds, "
        f"{contexts} contexts per split and run",
        markup=False,
    )
    console.print(split_table(report, "mean return ± 95% CI over seeds", returns))
    if report.cells[0].solved is not None:
        console.print(split_table(report, "share of contexts solved, mean over seeds", solved))
    runs = {mode: report.cell(mode, report.splits[0]).runs for mode in report.modes}
    listed = "; ".join(f"{mode} {','.join(map(str, ids))}" for mode, ids in runs.items())
    console.print(f"runs: {listed}", markup=False)


SHORT = {
    "interpolation": "interp",
    "combinatorial": "combin",
    "extrapolation-single": "extrap-one",
    "extrapolation-all": "extrap-all",
}


def returns(cell: ContextCell) -> str:
    """Three significant digits or so: 458±23, 21.4±3.1 (five splits fit 80 columns)."""
    digits = 0 if abs(cell.mean) >= 100 else 1
    return f"{cell.mean:.{digits}f}±{cell.ci95:.{digits}f}"


def solved(cell: ContextCell) -> str:
    return f"{100 * (cell.solved or 0.0):.0f}%"


def split_table(report: ContextReport, title: str, text: Callable[[ContextCell], str]) -> Table:
    """Modes x splits (their short names: interp, combin, extrap-one, extrap-all)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE)
    table.add_column("mode", no_wrap=True)
    for split in report.splits:
        table.add_column(SHORT.get(split, split), justify="right", no_wrap=True)
    for mode in report.modes:
        table.add_row(mode, *(text(report.cell(mode, split)) for split in report.splits))
    return table
