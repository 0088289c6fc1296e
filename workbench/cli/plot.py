"""``workbench plot``: runs' curves of one metric as a PNG, SVG or PDF for a paper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import Home, check_option, console, open_store, user_errors
from workbench.service import plots


@user_errors
def plot(
    run_ids: Annotated[list[int], typer.Argument(help="Run ids, see `workbench runs ls`.")],
    metric: Annotated[
        str, typer.Option(help="The metric key, e.g. eval/episode_return (`runs show ID`).")
    ],
    out: Annotated[Path, typer.Option("--out", help="FIG.png, FIG.svg or FIG.pdf.", metavar="FIG")],
    smooth: Annotated[
        float, typer.Option(help="TensorBoard's debiased EMA weight, 0 (off) to below 1.")
    ] = 0.0,
    group_by: Annotated[
        str | None,
        typer.Option(
            help="seed or config: runs with equal seed, or equal settings but the seed, "
            "drawn as their mean with a band of one standard error.",
            show_default=False,
        ),
    ] = None,
    x: Annotated[
        str, typer.Option("--x", help="step (env steps) or wall (time since the run began).")
    ] = "step",
    home: Home = None,
) -> None:
    """Draw runs' curves of one metric into a figure fit for a paper: axis labels, a
    legend, smoothing as in TensorBoard and the TUI, grouped runs as a mean with a band."""
    check_option("--smooth", smooth, 0, 0.999)
    plots.check_figure_path(out, "--out", plots.PLOT_SUFFIXES)  # before reading anything
    figure = plots.run_plot(
        open_store(home), run_ids, metric, smooth=smooth, group_by=group_by, x=x
    )
    plots.write_plot(figure, out)
    lines = len(figure.series)
    console.print(f"wrote {out}: {metric} of {len(run_ids)} run(s), {lines} line(s)", markup=False)
