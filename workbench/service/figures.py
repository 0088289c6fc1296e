"""A comparison group's figures: the numbers they draw, read from the studies and the run
store, and the figure file `study compare --plot` writes (the TUI's group view draws the
same data with plotext).

Three panels, one colour per method throughout:

1. **Return with its 95% CI**: each method's mean undiscounted return on its fresh
   lifetimes, with the interval, exactly the table's ``return_mean`` and ``return_ci95``.
2. **Cost**: the same return and interval against the env steps the method's search
   spent (the table's ``env_steps``; the axis is logarithmic when one method spent more
   than ten times another, as a search of 100 lifetimes does beside one meta-gradient
   lifetime).
3. **Return against discount**: every completed lifetime of every study's search as a
   point (its discount, its final return: what the study recorded for the trial), and
   over them each meta-gradient lifetime's path through the same plane: at each of the
   lifetime's evaluations, the discount it had learned by then (the last ``meta/discount``
   its run logged at or before that step) against the return it was evaluated at. A
   path ends at its lifetime's learned discount and final return, so it ends among the
   points a search would have found there (evaluations before the run logged any
   discount are left out). Drawn for the meta-gradient study's trials and for the fresh
   lifetimes the table counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.figure_files import check_figure_path, save_figure
from workbench.service.studies import CompareRow, compare_group, main_metric, study_detail
from workbench.store import Store
from workbench.trials import LEARNED_DISCOUNT, trial_curves


@dataclass(frozen=True)
class Trajectory:
    """One meta-gradient lifetime's path: at each evaluation, the step, the discount
    learned by then and the return evaluated."""

    run_id: int
    fresh: bool
    """A fresh re-evaluation lifetime (else one of the study's trials)."""
    steps: list[int]
    discounts: list[float]
    returns: list[float]


@dataclass(frozen=True)
class MethodFigure:
    """What the figures draw for one study of the group."""

    label: str
    """The method, with the agent (or the study's name) where that alone is ambiguous."""
    row: CompareRow
    """The table's row: the return, its interval and the env steps come from here."""
    trials: list[tuple[float, float]] = field(default_factory=list)
    """(discount, return) of each completed lifetime of the study's search."""
    trajectories: list[Trajectory] = field(default_factory=list)

    @property
    def interval(self) -> tuple[float, float] | None:
        """(low, high) of the 95% CI of the return, the mean alone when it has none."""
        mean, ci = self.row.return_mean, self.row.return_ci95
        if mean is None:
            return None
        ci = ci or 0.0
        return mean - ci, mean + ci


@dataclass(frozen=True)
class GroupFigure:
    group: str
    lifetimes: int
    """Fresh lifetimes per method the comparison asked for."""
    methods: list[MethodFigure]

    @property
    def rows(self) -> list[CompareRow]:
        return [method.row for method in self.methods]


def labels(rows: list[CompareRow]) -> list[str]:
    """Each row's label: its method when no other row has it, else method and agent, else
    the study's name."""

    def unique(texts: list[str]) -> bool:
        return len(set(texts)) == len(texts)

    methods = [row.method for row in rows]
    if unique(methods):
        return methods
    with_agent = [f"{row.method} ({row.agent})" for row in rows]
    return with_agent if unique(with_agent) else [row.study for row in rows]


def paired(
    discounts: list[tuple[int, float]], returns: list[tuple[int, float]]
) -> tuple[list[int], list[float], list[float]]:
    """At each (step, return), the last discount logged at or before that step; returns
    evaluated before any discount was logged are left out."""
    steps, gammas, values = [], [], []
    index, current = 0, None
    for step, value in returns:
        while index < len(discounts) and discounts[index][0] <= step:
            current = discounts[index][1]
            index += 1
        if current is not None:
            steps.append(step)
            gammas.append(current)
            values.append(value)
    return steps, gammas, values


def _series(store: Store, run_id: int, key: str) -> list[tuple[int, float]]:
    return [(step, value) for _, step, value in store.metrics(run_id, key)]


def method_figure(store: Store, row: CompareRow, label: str) -> MethodFigure:
    """The study's search points and, for a meta-gradient study, its lifetimes' paths."""
    detail = study_detail(store, row.study, curves=False)
    trials = [
        (t.discount, t.value)
        for t in detail.trials
        if t.state == "complete" and t.discount is not None and t.value is not None
    ]
    paths: list[Trajectory] = []
    if detail.spec.method == "meta-gradient":
        metric = main_metric(row.agent)
        gammas = trial_curves(store, row.study, detail.trials, LEARNED_DISCOUNT, running_only=False)
        returns = trial_curves(store, row.study, detail.trials, metric, running_only=False)
        for number in sorted(gammas.keys() & returns.keys()):
            curve, evaluated = gammas[number], returns[number]
            steps, discounts, values = paired(
                list(zip(curve.steps, curve.values, strict=True)),
                list(zip(evaluated.steps, evaluated.values, strict=True)),
            )
            paths.append(Trajectory(curve.run_id, False, steps, discounts, values))
        for run_id in row.fresh_runs:
            steps, discounts, values = paired(
                _series(store, run_id, LEARNED_DISCOUNT), _series(store, run_id, metric)
            )
            paths.append(Trajectory(run_id, True, steps, discounts, values))
    return MethodFigure(label, row, trials, [path for path in paths if path.steps])


def group_figure(
    store: Store, group: str, lifetimes: int, rows: list[CompareRow] | None = None
) -> GroupFigure:
    """The group's figure data: from ``rows`` (the table just computed, so table and
    figure show the same numbers), else from the fresh lifetimes already trained."""
    if rows is None:
        rows = compare_group(store, group, lifetimes, train=False)
    methods = [
        method_figure(store, row, label) for row, label in zip(rows, labels(rows), strict=True)
    ]
    return GroupFigure(group, lifetimes, methods)


# --- the figure file ---------------------------------------------------------------------
def write_figure(figure: GroupFigure, path: Path) -> None:
    """The three panels (see the module's docstring) as a PNG or an SVG (text kept as
    text) at ``path``."""
    check_figure_path(path)
    import matplotlib  # lazily: the CLI starts without it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "workbench"}):
        fig, (ci_axes, cost_axes, scatter_axes) = plt.subplots(
            1, 3, figsize=(16, 4.8), constrained_layout=True
        )
        try:
            _draw(figure, ci_axes, cost_axes, scatter_axes)
            fig.suptitle(
                f"group {figure.group}: undiscounted return over up to {figure.lifetimes} "
                "fresh lifetimes per method"
            )
            save_figure(fig, path)
        finally:
            plt.close(fig)


def _draw(figure: GroupFigure, ci_axes, cost_axes, scatter_axes) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for index, method in enumerate(figure.methods):
        colour = f"C{index % 10}"
        row, interval = method.row, method.interval
        if interval is not None:
            error = [[row.return_mean - interval[0]], [interval[1] - row.return_mean]]
            ci_axes.errorbar(
                [index], [row.return_mean], yerr=error, fmt="o", color=colour, capsize=4
            )
            if row.env_steps > 0:
                cost_axes.errorbar(
                    [row.env_steps],
                    [row.return_mean],
                    yerr=error,
                    fmt="o",
                    color=colour,
                    capsize=4,
                    label=method.label,
                )
        if method.trials:
            discounts, returns = zip(*method.trials, strict=True)
            scatter_axes.scatter(discounts, returns, s=14, color=colour, label=method.label)
        for number, path in enumerate(method.trajectories):
            scatter_axes.plot(
                path.discounts,
                path.returns,
                color=colour,
                alpha=0.6,
                linewidth=1,
                label=f"{method.label} path" if number == 0 else None,
            )
            scatter_axes.plot(
                path.discounts[-1:], path.returns[-1:], marker="x", color=colour, linestyle=""
            )
    ci_axes.set_xticks(range(len(figure.methods)), [m.label for m in figure.methods])
    ci_axes.set_xlim(-0.5, len(figure.methods) - 0.5)
    ci_axes.set_ylabel("return (mean ± 95% CI, fresh lifetimes)")
    ci_axes.set_title("return of each method's choice")
    spent = [m.row.env_steps for m in figure.methods if m.row.env_steps > 0]
    if spent and max(spent) > 10 * min(spent):
        cost_axes.set_xscale("log")
    steps = FuncFormatter(lambda value, _: f"{value:,.0f}")
    cost_axes.xaxis.set_major_formatter(steps)
    cost_axes.xaxis.set_minor_formatter(NullFormatter())
    cost_axes.set_xlabel("env steps the method spent")
    cost_axes.set_ylabel("return (mean ± 95% CI)")
    cost_axes.set_title("return against cost")
    if cost_axes.get_legend_handles_labels()[0]:
        cost_axes.legend(fontsize="small")
    scatter_axes.set_xlabel("discount")
    scatter_axes.set_ylabel("return of the lifetime")
    scatter_axes.set_title("searches' lifetimes; meta-gradient paths")
    if scatter_axes.get_legend_handles_labels()[0]:
        scatter_axes.legend(fontsize="small")
