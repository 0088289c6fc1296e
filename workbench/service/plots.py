"""Runs' curves of one metric as a figure for a paper (`workbench plot`, the TUI's plot
export): the data (``run_plot`` -> ``RunPlot``, no matplotlib) and the drawing
(``draw_plot``, ``write_plot``, matplotlib imported inside them).

Each run's curve is smoothed as TensorBoard smooths (``workbench.smoothing.ema``, the
debiased EMA the TUI draws); grouped runs (by seed, or by configuration: agent, task,
config and task parameters, all but the seed) become their mean with a band of one
standard error (``workbench.bands.mean_band``). The x axis is the env step or the wall
time since the run first started (`Store.wall_origin`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envs.errors import UserError
from workbench.bands import mean_band
from workbench.figure_files import check_figure_path, save_figure
from workbench.format import wall_unit
from workbench.records import RunRecord
from workbench.smoothing import ema
from workbench.store import Store, StoreError

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
GROUP_BY = ("seed", "config")
X_AXES = ("step", "wall")
FIGURE_SIZE = (6.4, 4.0)
"""Inches: wide enough for a legend of a few runs, small enough for one paper column
scaled to 0.5-0.7 of its width."""
DPI = 200
BAND = "mean ± s.e."


@dataclass(frozen=True)
class Series:
    """One line of the figure: a run's smoothed curve, or a group's mean with its band."""

    label: str
    x: list[float]
    y: list[float]
    low: list[float] | None = None
    high: list[float] | None = None
    runs: int = 1


@dataclass(frozen=True)
class RunPlot:
    metric: str
    x_label: str
    series: list[Series] = field(default_factory=list)
    smooth: float = 0.0
    grouped: bool = False


def run_curve(store: Store, run: RunRecord, metric: str, x: str) -> tuple[list, list]:
    """(x, values) of one run's metric; x is the step, or seconds since the run
    started (rows logged before wall times were recorded are left out)."""
    rows = store.timed_metrics(run.id, metric)
    if x == "step":
        return [s for _, s, _, _ in rows], [v for *_, v in rows]
    timed = [(w, v) for _, _, w, v in rows if w is not None]
    if not timed:
        return [], []
    origin = store.wall_origin(run)
    return [w - origin for w, _ in timed], [v for _, v in timed]


def _check(run_ids: Sequence[int], smooth: float, group_by: str | None, x: str) -> None:
    if not run_ids:
        raise UserError("give one or more run ids (`workbench runs ls`)", field="run")
    if not 0 <= smooth < 1:
        raise UserError(f"--smooth must be in [0, 1), got {smooth}", field="smooth")
    if group_by is not None and group_by not in GROUP_BY:
        raise UserError(f"--group-by must be seed or config, got {group_by!r}", field="group_by")
    if x not in X_AXES:
        raise UserError(f"--x must be step or wall, got {x!r}", field="x")


def run_plot(
    store: Store,
    run_ids: Sequence[int],
    metric: str,
    *,
    smooth: float = 0.0,
    group_by: str | None = None,
    x: str = "step",
) -> RunPlot:
    """The figure's data; a UserError for bad options, unknown runs, or a metric none of
    the runs logged (naming the keys they have)."""
    _check(run_ids, smooth, group_by, x)
    runs = store.get_runs(run_ids)
    missing = sorted(set(run_ids) - {run.id for run in runs})
    if missing:
        raise StoreError(f"no run {', '.join(map(str, missing))}; `workbench runs ls` lists them")
    curves = {run.id: run_curve(store, run, metric, x) for run in runs}
    runs = [run for run in runs if curves[run.id][0]]
    if not runs:
        if x == "wall" and any(store.metrics(i, metric) for i in run_ids):
            raise UserError(
                f"{metric} of these runs was logged before wall times were recorded; "
                "plot it with --x step",
                field="x",
            )
        keys = sorted({key for run_id in run_ids for key in store.metric_keys(run_id)})
        close = difflib.get_close_matches(metric, keys, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else f"they have {', '.join(keys)}"
        raise UserError(f"none of these runs logged {metric!r}; {hint}", field="metric")
    smoothed = {i: (xs, ema(list(ys), smooth)) for i, (xs, ys) in curves.items() if xs}
    x_label = "env steps"
    if x == "wall":
        unit, scale = wall_unit(max(xs[-1] for xs, _ in smoothed.values()))
        smoothed = {i: ([v / scale for v in xs], ys) for i, (xs, ys) in smoothed.items()}
        x_label = f"wall time ({unit})"
    if group_by is None:
        series = [
            Series(label, *smoothed[run.id])
            for run, label in zip(runs, _run_labels(runs), strict=True)
        ]
    else:
        series = []
        for label, members in _groups(runs, group_by):
            band = mean_band([smoothed[run.id] for run in members])
            assert band is not None  # every member has a point
            series.append(
                Series(
                    f"{label} (n={len(members)})",
                    band.steps.tolist(),
                    band.median.tolist(),
                    band.low.tolist(),
                    band.high.tolist(),
                    len(members),
                )
            )
    return RunPlot(metric, x_label, series, smooth, group_by is not None)


def _run_labels(runs: list[RunRecord]) -> list[str]:
    names = [run.name for run in runs]
    return [
        name if names.count(name) == 1 else f"{name} (run {run.id})"
        for name, run in zip(names, runs, strict=True)
    ]


def _setting(run: RunRecord) -> dict[str, str]:
    """All of a run's settings but its seed, as text: what `--group-by config` groups on."""
    return {
        "agent": run.agent,
        "task": run.task,
        **{k: json.dumps(v) for k, v in run.config.items()},
        **{f"task.{k}": json.dumps(v) for k, v in run.task_params.items()},
    }


def _groups(runs: list[RunRecord], group_by: str) -> list[tuple[str, list[RunRecord]]]:
    """Runs grouped by equal seed or equal settings, in order of first appearance, each
    group labelled by what tells it apart from the others."""
    if group_by == "seed":
        seeds: dict[int, list[RunRecord]] = {}
        for run in runs:
            seeds.setdefault(run.seed, []).append(run)
        return [(f"seed {seed}", members) for seed, members in seeds.items()]
    settings: dict[str, list[RunRecord]] = {}
    for run in runs:
        settings.setdefault(json.dumps(_setting(run), sort_keys=True), []).append(run)
    chosen = [_setting(members[0]) for members in settings.values()]
    labels = _setting_labels(chosen)
    return list(zip(labels, settings.values(), strict=True))


MAX_LABEL_KEYS = 3
"""Settings named in a group's label; more differing ones end it with an ellipsis."""


def _setting_labels(chosen: list[dict[str, str]]) -> list[str]:
    """Each group's label: agent and task when they differ (or nothing else does), then
    the settings all groups have but not all alike (a field one agent lacks says
    nothing about the other)."""
    shared = [k for k in chosen[0] if all(k in setting for setting in chosen)]
    differing = [k for k in shared if len({setting[k] for setting in chosen}) > 1]
    named = [k for k in differing if k not in ("agent", "task")]
    head = not named or "agent" in differing or "task" in differing
    labels = []
    for setting in chosen:
        parts = [f"{setting['agent']} on {setting['task']}"] if head else []
        parts += [f"{k}={setting[k]}" for k in named[:MAX_LABEL_KEYS]]
        labels.append(", ".join(parts) + (", …" if len(named) > MAX_LABEL_KEYS else ""))
    return labels


# --- drawing ------------------------------------------------------------------------------
def _literal(text: str) -> str:
    """Text from users shown as it is: matplotlib reads $...$ as mathematics."""
    return text.replace("$", r"\$")


def draw_plot(plot: RunPlot, size: tuple[float, float] = FIGURE_SIZE):
    """The matplotlib Figure (Agg backend): one line per series, a translucent band per
    group, axis labels, and a legend outside the lines' way."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    fig = Figure(figsize=size, constrained_layout=True)
    axes = fig.add_subplot()
    for index, series in enumerate(plot.series):
        colour = f"C{index % 10}"
        axes.plot(series.x, series.y, color=colour, linewidth=1.5, label=_literal(series.label))
        if series.low is not None and series.high is not None and series.runs > 1:
            axes.fill_between(series.x, series.low, series.high, color=colour, alpha=0.2, lw=0)
    if plot.x_label == "env steps":
        axes.xaxis.set_major_formatter(EngFormatter(sep=""))
    axes.set_xlabel(plot.x_label)
    ylabel = plot.metric + (f" ({BAND})" if plot.grouped else "")
    axes.set_ylabel(_literal(ylabel))
    if plot.smooth > 0:
        axes.set_title(f"smoothed (EMA {plot.smooth:g})", fontsize="small", loc="right")
    axes.grid(alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize="small", frameon=False, loc="best")
    return fig


def write_plot(plot: RunPlot, path: Path, option: str = "--out") -> None:
    """Draw ``plot`` into the file ``path`` (PNG, SVG or PDF, by its suffix)."""
    check_figure_path(path, option, PLOT_SUFFIXES)
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "workbench"}):
        save_figure(draw_plot(plot), path, dpi=DPI)
