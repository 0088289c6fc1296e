"""CLI start-up time: `workbench --help`, `runs ls` and `runs show ID` on a store of 500 runs,
beside a bare `python -c "import typer, rich"`, as the median of N runs of each.

Measures the code of any checkout (default: this one) by running ``python -m workbench``
with that checkout as the working directory, so its packages win over the installed ones:

    python benchmarks/cli_startup.py                     # this checkout
    git worktree add /tmp/cli-before 2364ec3
    python benchmarks/cli_startup.py --checkout /tmp/cli-before

The store is created in a temporary directory by the measured checkout's own code (an
older checkout refuses a newer schema). Commands run round-robin, so a change in the
machine's load touches all of them alike; the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAKE_STORE = """
import sys
from workbench.store import Store

store = Store(sys.argv[1])
for index in range(int(sys.argv[2])):
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={"discount": 0.99}, task_params={},
        seed=index, total_steps=50_000,
    )
    store.write_metrics(run_id, [("charts/episode_return", 100, 20.0 + index % 7)], 100)
    store.finish(run_id, "completed", summary={
        "last_return": 20.0 + index % 7, "eval_return_mean": 150.0, "eval_return_std": 3.0,
        "steps_per_second": 1234.0,
    })
store.close()
"""


TYPER_FLOOR = """
import typer

app = typer.Typer()


@app.command()
def hello(count: int = 1) -> None:
    print("hello" * count)


app()
"""
"""The least any Typer command costs: Typer builds a pydantic TypeAdapter per parameter
when it parses one (Typer >= 0.20), which imports pydantic."""


def commands(python: str, show_id: int) -> dict[str, list[str]]:
    return {
        'python -c "import typer, rich"': [python, "-c", "import typer, rich"],
        "a one-option Typer command": [python, "-c", TYPER_FLOOR, "--count", "1"],
        "workbench --help": [python, "-m", "workbench", "--help"],
        "workbench runs ls": [python, "-m", "workbench", "runs", "ls"],
        f"workbench runs show {show_id}": [python, "-m", "workbench", "runs", "show", str(show_id)],
    }


def measure(checkout: Path, python: str, runs: int, repeat: int) -> dict[str, float]:
    """Median wall seconds of each command over ``repeat`` runs."""
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as home:
        env = dict(os.environ, WORKBENCH_HOME=home, COLUMNS="120")
        subprocess.run(
            [python, "-c", MAKE_STORE, home, str(runs)], cwd=checkout, env=env, check=True
        )
        todo = commands(python, show_id=runs // 2)
        times: dict[str, list[float]] = {name: [] for name in todo}
        for _ in range(repeat):
            for name, argv in todo.items():
                began = time.perf_counter()
                subprocess.run(argv, cwd=checkout, env=env, check=True, capture_output=True)
                times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=500, help="runs in the store")
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command")
    args = parser.parse_args()
    load_before = os.getloadavg()
    medians = measure(args.checkout.resolve(), args.python, args.runs, args.repeat)
    load_after = os.getloadavg()
    bare = next(iter(medians.values()))
    print(f"checkout {args.checkout}, {args.runs} runs in the store, median of {args.repeat}")
    print(
        f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after, "
        f"on {os.cpu_count()} cores"
    )
    print("| command | median s | × bare import |")
    print("|---|---:|---:|")
    for name, seconds in medians.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds / bare:.1f} |")


if __name__ == "__main__":
    main()
