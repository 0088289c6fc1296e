"""Time a 10,000-trial study: creating it (all trials queued), listing it, reading it,
and the TUI's study view drawing it; each before and after the change of issue 12.

    python benchmarks/study_scale.py [--trials 10000]

"Before" creates with one ``enqueue_trial`` (one transaction) per trial and draws every
trial in the TUI's table; "after" is ``studies.bulk.enqueue_all`` (one transaction) and
the table capped at ``MAX_TRIAL_ROWS``. Both read through today's service layer, whose
counts by state are one GROUP BY; the reads before that change are in
benchmarks/README.md, measured on the commit before it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from studies import study as study_module
from studies.study import StudySpec
from workbench.service import studies as service
from workbench.store import Store


def spec(trials: int) -> StudySpec:
    return StudySpec.from_cli(
        agent="a2c",
        task="cartpole",
        method="random",
        trials=trials,
        steps=1000,
        params=None,
        fixed={},
        task_params={},
        group=None,
        pruner="none",
        sampler="tpe",
        seed=0,
    )


def one_by_one(study, points) -> None:
    for point in points:
        study.enqueue_trial(point, skip_if_exists=False)


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


async def draw_study_view(home: Path, cap: int) -> float:
    from textual.widgets import DataTable

    from workbench.tui import app as app_module
    from workbench.tui.screens import study_view

    study_view.MAX_TRIAL_ROWS = cap
    tui = app_module.WorkbenchApp(Store(home), refresh_seconds=3600)
    async with tui.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        start = time.perf_counter()
        tui.open_study("big", service.home_url(tui.store))
        while not (
            type(tui.screen).__name__ == "StudyView"
            and tui.screen.data is not None
            and tui.screen.query_one(DataTable).row_count
        ):
            await pilot.pause(0.05)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10_000)
    args = parser.parse_args()
    rows = []
    for label, enqueue, cap in (
        ("before", one_by_one, 10**9),
        ("after", study_module.enqueue_all, study_module_cap()),
    ):
        home = Path(tempfile.mkdtemp(prefix="study-scale-"))
        store = Store(home)
        study_module.enqueue_all = enqueue  # the path `create` takes
        try:
            create = timed(service.create_study, store, "big", spec(args.trials))
        finally:
            study_module.enqueue_all = ORIGINAL
        listing = timed(service.list_studies, store)
        detail = timed(service.study_detail, store, "big")
        tui = asyncio.run(draw_study_view(home, cap))
        rows.append((label, create, listing, detail, tui))
    print(f"| {args.trials:,} trials | create | study ls | study show (read) | TUI study view |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, *times in rows:
        print(f"| {label} | " + " | ".join(f"{t:.1f} s" for t in times) + " |")


ORIGINAL = study_module.enqueue_all


def study_module_cap() -> int:
    from workbench.tui.screens.study_view import MAX_TRIAL_ROWS

    return MAX_TRIAL_ROWS


if __name__ == "__main__":
    main()
