"""How long a refresh of the runs screen and of an open run view takes with a store of
500 runs and 1,000,000 metric rows (target: under 100 ms each).

    .venv/bin/python benchmarks/tui_refresh.py

Each refresh has two halves, both timed: the read in the worker thread (SQLite) and the
update of the widgets on the UI thread. "Steady" is a refresh while 2 of the 500 runs
train (the others' rows are unchanged, so their recent returns are not read again);
"cold" is the first refresh after opening the screen.

Then, with two DQN runs training in background workers and the screens refreshing every
second, the launch dialog's field takes 40 key presses, each timed from the press until
the field shows it (not until the pilot's own wait for the app to be idle).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from textual.widgets import Input

from workbench import runner
from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.messages import RunRead, RunsRead
from workbench.tui.readers.runs import read_runs
from workbench.tui.screens.run_view import RunView
from workbench.tui.screens.runs import RunsScreen

RUNS = 500
ROWS_PER_RUN = 2000  # 1000 training returns + 1000 losses: 1,000,000 rows in all


def build_store(home: Path) -> Store:
    store = Store(home)
    for i in range(RUNS):
        run_id = store.create_run(
            agent="dqn", task="cartpole", config={}, task_params={}, seed=i, total_steps=100_000
        )
        store.claim(run_id, pid=1)
        rows = [("charts/episode_return", 100 * s, float(s % 500)) for s in range(1, 1001)]
        rows += [("train/td_loss", 100 * s, 1.0 / s) for s in range(1, 1001)]
        store.write_metrics(run_id, rows, 100_000, summary={"last_return": 1.0})
        store.finish(run_id, "completed")
    return store


def train_a_little(store: Store, run_ids: list[int], step: int) -> None:
    for run_id in run_ids:
        with store.transaction():
            store.db.execute("UPDATE runs SET steps_done = ? WHERE id = ?", [step, run_id])
            store.db.execute(
                "INSERT INTO metrics VALUES (?, 'charts/episode_return', ?, 1.0)", [run_id, step]
            )


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, 1000 * (time.perf_counter() - start)


async def measure(home: Path) -> dict[str, list[float]]:
    store = Store(home)
    times: dict[str, list[float]] = {k: [] for k in ("runs cold", "runs steady", "view")}
    app = WorkbenchApp(store, refresh_seconds=3600)  # no timer: we drive each refresh
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(1.0)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        for _ in range(3):
            fresh, read = timed(read_runs, home, {})
            _, draw = timed(screen.on_runs_read, RunsRead(fresh))
            times["runs cold"].append(read + draw)
        for step in range(100_100, 100_100 + 20 * 100, 100):
            train_a_little(store, [1, 2], step)
            fresh, read = timed(read_runs, home, screen.cache)
            _, draw = timed(screen.on_runs_read, RunsRead(fresh))
            times["runs steady"].append(read + draw)
        await pilot.press("enter")
        await pilot.pause(1.0)
        view = app.screen
        assert isinstance(view, RunView)
        for step in range(102_100, 102_100 + 20 * 100, 100):
            train_a_little(store, [view.run_id], step)
            last = {key: steps[-1] for key, (steps, _) in view.series.items() if steps}
            update, read = timed(view.reader.read, view.metric, last)
            _, draw = timed(view.on_run_read, RunRead(update))
            times["view"].append(read + draw)
    return times


async def typing_latency(home: Path) -> list[float]:
    store = Store(home)
    training = []
    for seed in (0, 1):
        run_id = store.create_run(
            agent="dqn",
            task="cartpole",
            config={},
            task_params={},
            seed=seed,
            total_steps=1_000_000,
        )
        runner.launch(store, run_id)
        training.append(run_id)
    latencies = []
    try:
        app = WorkbenchApp(store, refresh_seconds=1.0)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(3.0)  # the workers are training by now
            await pilot.press("n")
            await pilot.pause(1.0)
            field = next(w for w in app.screen.query(Input) if w.name == "learning_rate")
            field.focus()
            await pilot.pause(0.2)
            for i in range(40):
                before = field.value
                start = time.perf_counter()
                press = asyncio.create_task(pilot.press("1" if i % 2 else "backspace"))
                while field.value == before:  # until the field shows the key
                    await asyncio.sleep(0.001)
                latencies.append(1000 * (time.perf_counter() - start))
                await press
                await pilot.pause(0.05)
        assert all(store.get_run(r).status == "running" for r in training)
    finally:
        for run_id in training:
            runner.stop(store, run_id)
    return latencies


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="workbench-tui-bench-"))
    try:
        start = time.perf_counter()
        build_store(home)
        print(f"built {RUNS} runs x {ROWS_PER_RUN} rows in {time.perf_counter() - start:.0f} s")
        for name, values in asyncio.run(measure(home)).items():
            print(
                f"{name:12s} median {statistics.median(values):6.1f} ms  "
                f"max {max(values):6.1f} ms  ({len(values)} refreshes)"
            )
        keys = asyncio.run(typing_latency(Path(tempfile.mkdtemp(prefix="workbench-typing-"))))
        print("per key (ms):", " ".join(f"{k:.0f}" for k in keys))
        print(
            f"typing with 2 runs training: median {statistics.median(keys):.1f} ms, "
            f"max {max(keys):.1f} ms per key ({len(keys)} keys)"
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
