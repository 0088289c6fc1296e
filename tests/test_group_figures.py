"""A comparison group's figures (issue 14): the numbers they draw are the table's and the
store's, `study compare --plot` writes them as PNG or SVG, and the group view draws them
beside its table."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import DataTable

from envs.errors import UserError
from tests.conftest import Cli
from workbench.format import mean_ci
from workbench.service.figures import GroupFigure, MethodFigure, group_figure, labels, paired
from workbench.service.studies import CompareRow
from workbench.store import Store
from workbench.trials import LEARNED_DISCOUNT
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.group_view import GroupView
from workbench.tui.widgets.group_plots import cost_panel, steps_text
from workbench.tui.widgets.metric_plot import MetricPlot

from .test_tui import until

TINY = ["--set", "eval_interval=500", "--set", "eval_episodes=3"]
FRESH = 2


def ok(result) -> None:
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def group_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Group "cmp" on a 5-state chain: a grid search of a2c (3 lifetimes of 2,000 steps),
    a random search (2 of 1,500) and mg-a2c's meta-gradient method (one lifetime starting
    at discount 0.8), each with its choice re-evaluated on 2 fresh lifetimes (~5 s)."""
    home = tmp_path_factory.mktemp("figures") / "home"
    cli = Cli(home)
    common = ["--task", "chain", "--task-set", "length=5", "--group", "cmp", *TINY]
    ok(cli("study", "create", "grid", "--agent", "a2c", "--method", "grid", "--trials", "3",
           "--steps", "2000", *common))  # fmt: skip
    ok(cli("study", "create", "random", "--agent", "a2c", "--method", "random", "--trials",
           "2", "--steps", "1500", *common))  # fmt: skip
    ok(cli("study", "create", "online", "--agent", "mg-a2c", "--method", "meta-gradient",
           "--trials", "1", "--steps", "2000", "--set", "discount=0.8", *common))  # fmt: skip
    for name in ("grid", "random", "online"):
        ok(cli("study", "run", name))
    ok(cli("study", "compare", "cmp", "--lifetimes", str(FRESH)))
    return home


def table(home: Path) -> dict[str, dict]:
    """`study compare --json`, by method: the table every figure must agree with."""
    rows = Cli(home).json("study", "compare", "cmp", "--lifetimes", str(FRESH))
    return {row["method"]: row for row in rows}


def run_count(home: Path) -> int:
    return len(Cli(home).json("runs", "ls"))


# --- the figure data ----------------------------------------------------------------------


def test_the_figure_data_are_the_tables_and_the_studies_numbers(group_home: Path) -> None:
    expected = table(group_home)
    store = Store(group_home)
    try:
        figure = group_figure(store, "cmp", FRESH)
        methods = {m.label: m for m in figure.methods}
        assert set(methods) == {"grid", "random", "meta-gradient"}
        for label, method in methods.items():
            assert method.row.to_json() == expected[label]
            mean, ci = expected[label]["return_mean"], expected[label]["return_ci95"]
            assert method.interval == pytest.approx((mean - ci, mean + ci))
        # Every completed search lifetime as the study recorded it.
        for label, name in (("grid", "grid"), ("random", "random"), ("meta-gradient", "online")):
            shown = Cli(group_home).json("study", "show", name)["trials_detail"]
            assert sorted(methods[label].trials) == sorted(
                (t["discount"], t["value"]) for t in shown if t["state"] == "complete"
            )
        assert len(methods["grid"].trials) == 3 and len(methods["random"].trials) == 2
        assert methods["grid"].trajectories == [] == methods["random"].trajectories

        # The meta-gradient lifetimes' paths: its trial's run and the table's fresh runs,
        # each ending at its run's last learned discount and last evaluated return.
        online = methods["meta-gradient"]
        trial_run = Cli(group_home).json("study", "show", "online")["trials_detail"][0]["run_id"]
        fresh = expected["meta-gradient"]["fresh_runs"]
        assert len(fresh) == FRESH
        assert [(p.run_id, p.fresh) for p in online.trajectories] == [
            (trial_run, False),
            *((run_id, True) for run_id in fresh),
        ]
        for path in online.trajectories:
            run = store.get_run(path.run_id)
            assert path.discounts[-1] == store.last_value(run.id, LEARNED_DISCOUNT)
            assert path.returns[-1] == run.summary["eval_return_mean"]
            assert path.steps[-1] == run.summary["eval_step"] == 2000
            assert len(path.steps) >= 3  # evaluations every 500 steps
            assert all(0 < g < 1 for g in path.discounts)
        # The table's discount of the meta-gradient method: the fresh paths' mean end.
        ends = [p.discounts[-1] for p in online.trajectories if p.fresh]
        assert expected["meta-gradient"]["discount"] == pytest.approx(np.mean(ends))
    finally:
        store.close()


def test_a_path_pairs_each_evaluation_with_the_discount_learned_by_then() -> None:
    discounts = [(100, 0.5), (200, 0.6), (300, 0.7)]
    returns = [(50, 1.0), (200, 2.0), (250, 3.0), (400, 4.0)]
    # the evaluation at step 50 came before any discount was logged: left out
    assert paired(discounts, returns) == ([200, 250, 400], [0.6, 0.6, 0.7], [2.0, 3.0, 4.0])
    assert paired([], returns) == ([], [], [])


def row(method: str, agent: str, study: str) -> CompareRow:
    return CompareRow(study, method, agent, 0.9, 1.0, 0.1, 2, 3, 100, 1.0, 1.0)


def test_labels_name_the_method_and_add_what_tells_two_apart() -> None:
    assert labels([row("grid", "dqn", "a"), row("random", "dqn", "b")]) == ["grid", "random"]
    assert labels([row("grid", "dqn", "a"), row("grid", "sf-gpi", "b")]) == [
        "grid (dqn)",
        "grid (sf-gpi)",
    ]
    assert labels([row("grid", "dqn", "a"), row("grid", "dqn", "b")]) == ["a", "b"]


def test_the_cost_axis_is_logarithmic_when_one_method_spent_ten_times_another() -> None:
    def figure(*spent: int) -> GroupFigure:
        rows = [row("grid", "dqn", "a"), row("meta-gradient", "mg-a2c", "b")]
        for each, steps in zip(rows, spent, strict=True):
            each.env_steps = steps
        return GroupFigure("g", 2, [MethodFigure(r.method, r) for r in rows])

    wide = cost_panel(figure(400_000, 4_000)).options
    assert wide["log_x"] and wide["xticks"] == [(4_000, "4k"), (400_000, "400k")]
    assert wide["xlim"] == (2_000, 800_000)
    narrow = cost_panel(figure(12_000, 6_000)).options
    assert not narrow["log_x"] and narrow["xticks"] == [(6_000, "6k"), (12_000, "12k")]
    assert steps_text(2_400_000) == "2.4M" and steps_text(999) == "999"


# --- study compare --plot -------------------------------------------------------------------


def test_plot_writes_an_svg_with_every_method_and_a_png(group_home: Path, tmp_path: Path) -> None:
    cli = Cli(group_home)
    before = run_count(group_home)
    svg = tmp_path / "cmp.svg"
    result = cli("study", "compare", "cmp", "--lifetimes", str(FRESH), "--plot", str(svg))
    ok(result)
    assert f"figures: {svg}" in result.stdout
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {
        "".join(node.itertext()).strip() for node in root.iter("{http://www.w3.org/2000/svg}text")
    }
    assert {"grid", "random", "meta-gradient", "meta-gradient path"} <= texts
    assert {"discount", "env steps the method spent"} <= texts

    png = tmp_path / "cmp.png"
    result = cli("study", "compare", "cmp", "--lifetimes", str(FRESH), "--plot", str(png), "--json")
    ok(result)
    assert [r["method"] for r in json.loads(result.stdout)] == ["grid", "random", "meta-gradient"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(png).shape
    assert width > 2 * height > 0
    assert run_count(group_home) == before  # the fresh lifetimes were all there


@pytest.mark.parametrize(
    ("plot", "message"),
    [
        ("fig.jpg", "--plot takes a .png or .svg path, not 'fig.jpg'"),
        ("missing/fig.png", "no directory 'missing'; create it first"),
        (".", "--plot takes a .png or .svg path"),
    ],
)
def test_a_bad_plot_path_is_one_line_exit_2_before_anything_trains(
    group_home: Path, plot: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = run_count(group_home)
    # 3 lifetimes would train a third for each method, were the path not refused first.
    result = Cli(group_home)("study", "compare", "cmp", "--lifetimes", "3", "--plot", plot)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert run_count(group_home) == before


def test_a_plot_path_that_is_a_directory_is_one_line(group_home: Path, tmp_path: Path) -> None:
    (tmp_path / "fig.svg").mkdir()
    result = Cli(group_home)("study", "compare", "cmp", "--plot", str(tmp_path / "fig.svg"))
    assert result.exit_code == 2 and "is a directory; give a file name" in result.output


# --- the group view -------------------------------------------------------------------------


def plot(app, plot_id: str) -> MetricPlot:
    return app.screen.query_one(f"#{plot_id}", MetricPlot)


async def test_the_group_view_plots_the_tables_numbers(group_home: Path) -> None:
    expected = table(group_home)
    app = WorkbenchApp(Store(group_home), refresh_seconds=3600)
    async with app.run_test(size=(160, 48)) as pilot:
        app.open_group("cmp")
        await until(pilot, lambda: isinstance(app.screen, GroupView) and app.screen.rows)
        await until(pilot, lambda: plot(app, "group-scatter").curves)
        grid = app.screen.query_one(DataTable)
        methods = [grid.get_row_at(i)[0] for i in range(grid.row_count)]
        assert methods == ["grid", "random", "meta-gradient"]
        legend = str(app.screen.query_one("#group-legend").render())
        assert "● grid   ● random   ● meta-gradient   lines: meta-gradient" in legend

        ci = plot(app, "group-ci").curves
        cost = plot(app, "group-cost").curves
        for index, method in enumerate(methods):
            mean, half = expected[method]["return_mean"], expected[method]["return_ci95"]
            assert grid.get_row_at(index)[3] == mean_ci(mean, half)  # the table's cell
            segment, point = ci[2 * index], ci[2 * index + 1]
            assert point.label == method and list(point.ys) == [mean] and list(point.xs) == [index]
            assert list(segment.ys) == pytest.approx([mean - half, mean + half])
            steps = expected[method]["env_steps"]
            segment, point = cost[2 * index], cost[2 * index + 1]
            assert list(point.xs) == [steps] and list(point.ys) == [mean]
            assert list(segment.xs) == [steps, steps]

        scatter = {curve.label: curve for curve in plot(app, "group-scatter").curves}
        shown = Cli(group_home).json("study", "show", "grid")["trials_detail"]
        assert sorted(zip(scatter["grid"].xs, scatter["grid"].ys, strict=True)) == sorted(
            (t["discount"], t["value"]) for t in shown
        )
        paths = [c for c in plot(app, "group-scatter").curves if not c.points]
        assert len(paths) == 1 + FRESH  # the meta-gradient trial's path and the fresh ones
        assert scatter["meta-gradient path"] is paths[0]


async def test_the_group_view_shows_a_failed_read_inline(
    group_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(store, group, lifetimes, rows=None):
        raise UserError("storage 'x' failed: gone")

    monkeypatch.setattr("workbench.tui.readers.studies.group_figure", failing)
    app = WorkbenchApp(Store(group_home), refresh_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_group("cmp")
        await until(
            pilot, lambda: isinstance(app.screen, GroupView) and app.screen.query("MessageLine")
        )
        line = app.screen.query_one("MessageLine")
        await until(pilot, lambda: "storage 'x' failed: gone" in str(line.render()))
        assert app.screen.query_one(DataTable).row_count == 0
