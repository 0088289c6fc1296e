"""Populations and a study's lifetimes as group rows of the runs table (issue 13): the
reader's numbers, the median band, expand and collapse, and the grouped compare view.

The store is built directly (runs created with ``population=``, metrics written with the
store API, nothing trained): two populations of five members, a study of three
lifetimes and two lone runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import DataTable

from workbench.bands import BAND, median_band
from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.readers.groups import read_table, seed_text
from workbench.tui.screens.compare import CompareView
from workbench.tui.table_rows import entries

from .test_tui import completed_run, until

STEPS = [1000, 2000, 3000, 4000, 5000]
POP_A = [100.0, 300.0, 200.0, 500.0, 400.0]
"""Each member's evaluation scale: its curve is scale * step / 1000 / 5, its summary's
``eval_return_mean`` the scale itself."""
POP_B = [10.0, 50.0, 20.0, 40.0, 30.0]


def member(
    store: Store,
    scale: float,
    done: bool,
    speed: float,
    population: int | None = None,
    study: str | None = None,
    trial: int | None = None,
) -> int:
    """A run with an evaluation curve rising to ``scale``; completed, or running (claimed
    by this process, so no reader marks it lost) at 60% of its budget."""
    run_id = store.create_run(
        agent="dqn",
        task="cartpole",
        config={},
        task_params={},
        seed=int(scale),
        total_steps=5000,
        population=population,
        study=study,
        trial=trial,
    )
    store.claim(run_id, pid=os.getpid())
    steps = STEPS if done else STEPS[:3]
    rows = [("eval/episode_return", step, scale * step / 5000) for step in steps]
    rows += [("charts/episode_return", step, scale / 2) for step in steps]
    summary = {"eval_return_mean": scale, "last_return": scale / 2, "steps_per_second": speed}
    store.write_metrics(run_id, rows, steps[-1], summary=summary)
    if done:
        store.finish(run_id, "completed")
    return run_id


def population(store: Store, scales: list[float], running: int) -> list[int]:
    """A population whose last ``running`` members still train; its id is its first
    member's run id (the next id of a store whose runs were never deleted)."""
    first = max((run.id for run in store.list_runs()), default=0) + 1
    ids = [
        member(store, scale, i < len(scales) - running, 1000.0 * (i + 1), population=first)
        for i, scale in enumerate(scales)
    ]
    assert ids[0] == first
    return ids


@pytest.fixture
def grouped_store(home: Path) -> Store:
    store = Store(home)
    population(store, POP_A, running=2)  # runs 1-5: 3 completed, 4 and 5 running
    population(store, POP_B, running=0)  # runs 6-10, all completed
    for trial, scale in enumerate([60.0, 90.0, 30.0]):  # runs 11-13: one running
        member(store, scale, trial != 2, 500.0, study="grid", trial=trial)
    completed_run(store, [1.0, 2.0])  # 14 and 15: lone runs stay plain rows
    completed_run(store, [3.0, 4.0])
    return store


def test_groups_are_populations_and_studies_with_their_numbers(grouped_store: Store) -> None:
    table = read_table(grouped_store.home, {}, {})
    groups = table.groups
    assert set(groups) == {"population:1", "population:6", "study:grid"}
    a, b, study = groups["population:1"], groups["population:6"], groups["study:grid"]
    assert a.members == (1, 2, 3, 4, 5) and a.name == "population 1"
    assert (a.done, a.total, a.running) == (3, 5, 2)
    assert a.status == "3/5 done · 2 running"
    assert (a.median_eval, a.best_eval, a.median_return) == (300.0, 500.0, 150.0)
    assert a.steps_per_second == 4000.0 + 5000.0  # the two running members' sum
    assert a.progress == pytest.approx((3 * 1.0 + 2 * 0.6) / 5)
    assert (b.done, b.total, b.median_eval, b.best_eval) == (5, 5, 30.0, 50.0)
    assert b.steps_per_second is None  # nothing runs
    assert b.status == "5/5 done"
    assert (a.seeds, b.seeds) == ("5 seeds", "5 seeds")  # seeded by scale: 100, 300, ...
    assert study.members == (11, 12, 13) and study.name == "study grid"
    assert (study.done, study.median_eval, study.best_eval) == (2, 60.0, 90.0)
    # A population of all completed members: its median curve is the median scale's.
    assert b.spark[0] == pytest.approx(30.0 * 1000 / 5000)
    assert b.spark[-1] == pytest.approx(30.0)
    assert len(b.spark) == 16
    lone = [entry.run.id for entry in entries(table.rows, groups, "", "id") if entry.run]
    assert lone == [14, 15]


def test_group_sparkline_median_counts_only_members_that_reached_a_step(
    grouped_store: Store,
) -> None:
    """Population 1's running members stop at step 3000: past it the median is of the
    three completed members (100, 200, 300 at their end) alone."""
    a = read_table(grouped_store.home, {}, {}).groups["population:1"]
    assert a.spark[-1] == pytest.approx(200.0)
    assert a.spark[0] == pytest.approx(300.0 / 5)


def test_member_curves_are_read_again_only_when_their_row_changed(grouped_store: Store) -> None:
    first = read_table(grouped_store.home, {}, {})
    grouped_store.write_metrics(4, [("eval/episode_return", 4000, 400.0)], 4000)
    second = read_table(grouped_store.home, first.rows, first.curves)
    assert second.curves[1] is first.curves[1]  # unchanged row: the kept curve
    assert second.curves[4][1:] == ([1000, 2000, 3000, 4000], [100.0, 200.0, 300.0, 400.0])
    assert set(second.curves) == set(range(1, 14))  # members only, no lone run
    assert second.groups["population:1"].median_eval == 300.0


def test_a_curve_read_again_when_its_status_changed(grouped_store: Store) -> None:
    """A resume deletes the metrics after the checkpoint: a row whose status changed is
    read whole, not appended to."""
    first = read_table(grouped_store.home, {}, {})
    stamp, _, _ = first.curves[4]
    # As seen before a resume: a point at 2500 since deleted, the row then stopped.
    stale = {**first.curves, 4: (("stopped", *stamp[1:]), [1000, 2000, 2500], [1.0, 2.0, -1.0])}
    second = read_table(grouped_store.home, {}, stale)
    assert second.curves[4][1:] == ([1000, 2000, 3000], [100.0, 200.0, 300.0])


def test_median_band_aligns_curves_reported_at_different_steps() -> None:
    band = median_band(
        [([0, 100], [0.0, 10.0]), ([0, 50, 200], [0.0, 5.0, 20.0]), ([0, 400], [0.0, 40.0])],
        points=5,
    )
    assert band is not None
    assert list(band.steps) == [0, 100, 200, 300, 400]
    assert list(band.counts) == [3, 3, 2, 1, 1]  # the first curve ends at 100, the next at 200
    np.testing.assert_allclose(band.median, [0.0, 10.0, 20.0, 30.0, 40.0])
    np.testing.assert_allclose(band.low[:3], [0.0, 10.0, 20.0])
    np.testing.assert_allclose(band.high[1], 10.0)
    assert median_band([]) is None


def test_median_band_is_the_interquartile_range() -> None:
    curves = [([0, 10], [v, v]) for v in (0.0, 1.0, 2.0, 3.0, 100.0)]
    band = median_band(curves, points=3)
    np.testing.assert_allclose(band.median, 2.0)
    np.testing.assert_allclose(band.low, 1.0)
    np.testing.assert_allclose(band.high, 3.0)  # the outlier does not stretch it


def keys(app) -> list[str]:
    return [key.value for key in app.screen.query_one(DataTable).rows]


def move_to(app, key: str) -> None:
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=keys(app).index(key))


async def test_group_rows_expand_and_collapse(grouped_store: Store) -> None:
    app = WorkbenchApp(grouped_store, refresh_seconds=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 5)
        assert keys(app) == [
            "group:population:1",
            "group:population:6",
            "group:study:grid",
            "14",
            "15",
        ]
        table = app.screen.query_one(DataTable)
        row = table.get_row("group:population:1")
        assert row[1] == "▸" and row[2] == "population 1 ×5"
        assert row[6] == "3/5 done · 2 running" and row[10] == "500.0" and row[11] == "300.0"
        move_to(app, "group:population:1")
        await pilot.press("e")
        assert keys(app)[:6] == ["group:population:1", "1", "2", "3", "4", "5"]
        assert table.get_row("group:population:1")[1] == "▾"
        assert table.get_row("1")[1] == "├ 1" and table.get_row("5")[1] == "└ 5"
        await pilot.pause(0.5)  # refreshes keep it expanded and the rows in place
        assert len(keys(app)) == 10
        move_to(app, "3")
        await pilot.press("e")  # from a member's row: collapses its group
        assert len(keys(app)) == 5
        assert keys(app)[table.cursor_row] == "group:population:1"
        move_to(app, "14")
        await pilot.press("e")  # a lone run has no members: says so
        assert "e expands a group row" in str(app.screen.query_one("#run-message").render())


async def test_a_group_row_marks_and_opens_its_members(grouped_store: Store) -> None:
    app = WorkbenchApp(grouped_store, refresh_seconds=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 5)
        move_to(app, "group:study:grid")
        assert app.screen.chosen() == [11, 12, 13]  # s, r, d, x act on the members
        await pilot.press("space")
        assert app.screen.marked == {11, 12, 13}
        assert app.screen.query_one(DataTable).get_row("group:study:grid")[0] == "✓"
        move_to(app, "group:study:grid")
        await pilot.press("space")
        assert app.screen.marked == set()
        move_to(app, "group:population:6")
        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(app.screen, CompareView) and len(app.screen.series) == 5
        )
        header = str(app.screen.query_one("#compare-header").render())
        assert "population 6: 5 runs" in header and "median and 25–75% band" in header
        labels = [curve.label for curve in app.screen.query_one("MetricPlot").curves]
        assert "population 6 median (n=5)" in labels and BAND in labels
        assert app.screen.metric == "eval/episode_return"  # the agent's main metric
        app.screen.smoothing = 0.0
        app.screen.draw()
        low, high, median = app.screen.query_one("MetricPlot").curves
        assert (low.xs[0], low.xs[-1]) == (1000, 5000)
        # scales 10..50: at the last step the quartiles are 20 and 40, the median 30
        assert (low.ys[-1], median.ys[-1], high.ys[-1]) == pytest.approx((20.0, 30.0, 40.0))


async def test_compare_view_groups_marked_members_by_population(grouped_store: Store) -> None:
    app = WorkbenchApp(grouped_store, refresh_seconds=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 5)
        app.screen.marked = {1, 2, 3, 4, 5, 6, 7, 14}
        await pilot.press("v")
        await until(
            pilot, lambda: isinstance(app.screen, CompareView) and len(app.screen.series) == 8
        )
        assert app.screen.grouped  # members of one population: grouped at once
        labels = [curve.label for curve in app.screen.query_one("MetricPlot").curves]
        assert "population 1 median (n=5)" in labels
        assert "population 6 median (n=2)" in labels
        assert not any("median (n=1)" in str(label) and "population" in str(label)
                       for label in labels)  # fmt: skip


def test_filter_keeps_a_group_by_its_name_or_its_matching_members(grouped_store: Store) -> None:
    table = read_table(grouped_store.home, {}, {})

    def shown(pattern: str) -> dict:
        return {
            entry.group.key if entry.group else entry.run.id: [run.id for run, _ in entry.members]
            if entry.group
            else None
            for entry in entries(table.rows, table.groups, pattern, "id")
        }

    assert shown("running") == {"population:1": [4, 5], "study:grid": [13]}
    assert shown("population 6") == {"population:6": [6, 7, 8, 9, 10]}
    assert shown("cartpole-14") == {14: None}
    assert list(shown("")) == ["population:1", "population:6", "study:grid", 14, 15]
    by_eval = entries(table.rows, table.groups, "", "eval")
    assert [e.group.key for e in by_eval if e.group] == [  # median evaluations, descending
        "population:1",
        "study:grid",
        "population:6",
    ]
    assert [run.id for run, _ in by_eval[0].members] == [4, 5, 2, 3, 1]


def test_seed_text() -> None:
    assert seed_text([3, 0, 2, 1]) == "0–3"
    assert seed_text([7, 7]) == "7"
    assert seed_text([0, 2, 5]) == "3 seeds"


async def test_many_runs_overlaid_draw_without_a_legend(grouped_store: Store) -> None:
    app = WorkbenchApp(grouped_store, refresh_seconds=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 5)
        app.screen.marked = set(range(1, 14))  # both populations and the study
        await pilot.press("v")
        await until(
            pilot, lambda: isinstance(app.screen, CompareView) and len(app.screen.series) == 13
        )
        curves = app.screen.query_one("MetricPlot").curves
        medians = sorted(c.label for c in curves if c.label and "median" in c.label)
        assert medians == [
            "population 1 median (n=5)",
            "population 6 median (n=5)",
            "study grid median (n=3)",
        ]
        await pilot.press("g")  # overlaid: 13 curves, too many to label
        curves = app.screen.query_one("MetricPlot").curves
        assert len(curves) == 13 and all(c.label is None for c in curves)
        assert "compare: 13 runs" in str(app.screen.query_one("#compare-header").render())
