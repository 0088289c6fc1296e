"""The README's example, five times: `workbench run dqn cartpole --steps 50000 --seed S`.

Runs the real CLI in a subprocess for each seed (a throwaway --home), records the final
greedy evaluation (20 episodes), the best of the evaluations made every 5k steps and its
step, the wall time including start-up and the load average when the run ended, and writes
the table to benchmarks/README.md (section `dqn_seeds`, or `dqn_seeds_STEPS` for another
step budget, e.g. the README's 200k background example).

    python benchmarks/dqn_seeds.py [--seeds 0 1 2 3 4] [--steps 50000] [--home DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.readme_section import write_section  # noqa: E402

WORKBENCH = Path(sys.executable).with_name("workbench")
DEFAULT_STEPS = 50_000


def best_evaluation(run_id: int, home: str) -> tuple[float, int]:
    """The highest evaluation mean of a run and the first step where it was reached."""
    exported = subprocess.run(
        [str(WORKBENCH), "runs", "export", str(run_id), "--format", "csv", "--home", home],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    evaluations = [
        (float(row["eval/episode_return"]), int(float(row["step"])))
        for row in csv.DictReader(io.StringIO(exported))
        if row.get("eval/episode_return")
    ]
    best = max(mean for mean, _ in evaluations)
    return best, min(step for mean, step in evaluations if mean == best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument(
        "--home", help="keep the runs in this workbench home (default: a temporary one)"
    )
    args = parser.parse_args()
    rows = [
        "| seed | final eval return (20 episodes) | best eval (every 5k) | at step "
        "| wall time (s) | load average (1 min) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    solved = 0
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or scratch
        for seed in args.seeds:
            began = time.perf_counter()
            output = subprocess.run(
                [
                    str(WORKBENCH),
                    "run",
                    "dqn",
                    "cartpole",
                    "--steps",
                    str(args.steps),
                    "--seed",
                    str(seed),
                    "--json",
                    "--home",
                    home,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            wall = time.perf_counter() - began
            result = json.loads(output)
            mean, std = result["eval_return_mean"], result["eval_return_std"]
            best, best_step = best_evaluation(result["id"], home)
            load = os.getloadavg()[0]
            solved += mean >= 475
            rows.append(
                f"| {seed} | {mean:.1f} ± {std:.1f} | {best:.1f} | {best_step} | {wall:.1f} "
                f"| {load:.1f} |"
            )
            print(rows[-1], flush=True)
    threads = os.environ.get("WORKBENCH_TORCH_THREADS", "default")
    command = "python benchmarks/dqn_seeds.py" + (
        "" if args.steps == DEFAULT_STEPS else f" --steps {args.steps}"
    )
    body = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores, "
        f"shared), one run at a time, torch threads: {threads}: `workbench run dqn cartpole "
        f"--steps {args.steps} --seed S` for S in {' '.join(map(str, args.seeds))} "
        f"(`{command}`).\n\n"
        + "\n".join(rows)
        + f"\n\n{solved} of {len(args.seeds)} seeds end at an evaluation mean ≥ 475."
    )
    write_section("dqn_seeds" if args.steps == DEFAULT_STEPS else f"dqn_seeds_{args.steps}", body)


if __name__ == "__main__":
    main()
