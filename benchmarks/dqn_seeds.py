"""The README's example, five times: `workbench run dqn cartpole --steps 50000 --seed S`.

Runs the real CLI in a subprocess for each seed (a throwaway --home), records the final
greedy evaluation (20 episodes) and the wall time including start-up, and writes the table
to benchmarks/README.md.

    python benchmarks/dqn_seeds.py [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.readme_section import write_section  # noqa: E402

WORKBENCH = Path(sys.executable).with_name("workbench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=50_000)
    args = parser.parse_args()
    rows = [
        "| seed | eval return (20 episodes) | wall time (s) |",
        "| ---: | ---: | ---: |",
    ]
    solved = 0
    with tempfile.TemporaryDirectory() as home:
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
            solved += mean >= 475
            rows.append(f"| {seed} | {mean:.1f} ± {std:.1f} | {wall:.1f} |")
            print(rows[-1], flush=True)
    body = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} (2 cores), one run at a "
        f"time: `workbench run dqn cartpole --steps {args.steps} --seed S` for S in "
        f"{' '.join(map(str, args.seeds))} (`python benchmarks/dqn_seeds.py`).\n\n"
        + "\n".join(rows)
        + f"\n\n{solved} of {len(args.seeds)} seeds reach an evaluation mean ≥ 475."
    )
    write_section("dqn_seeds", body)


if __name__ == "__main__":
    main()
