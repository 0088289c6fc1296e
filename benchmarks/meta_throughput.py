"""Meta-training throughput of rl2, l2rl and snail on 5-armed bandits, 1024 parallel tasks.

For each agent: env-steps/s over a few updates after a warm-up, and the share of wall time
spent outside torch operators (Python loops, NumPy environments, bookkeeping), from
torch.profiler's self CPU time of every operator. One torch thread.

    python benchmarks/meta_throughput.py [--pulls 10]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.registry import AGENTS  # noqa: E402
from benchmarks.readme_section import write_section  # noqa: E402
from envs.registry import get_task  # noqa: E402

TASKS = 1024


def measure(name: str, pulls: int, updates: int) -> dict:
    spec, family = AGENTS[name], get_task("bandit")
    config = spec.config(num_tasks=TASKS, eval_interval=10**12)
    agent = spec.make(config, family, family.Params(arms=5, pulls=pulls), seed=0)
    steps = iter(agent.learn(10**12))
    next(steps)  # warm-up update
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        began = time.perf_counter()
        for _ in range(updates):
            next(steps)
        wall = time.perf_counter() - began
    in_ops = sum(event.self_cpu_time_total for event in prof.key_averages()) / 1e6
    # Profiling slows everything a little; the rate is measured again without it.
    began, start_again = time.perf_counter(), agent.steps_done
    for _ in range(updates):
        next(steps)
    rate = (agent.steps_done - start_again) / (time.perf_counter() - began)
    return {
        "agent": name,
        "steps_per_second": rate,
        "outside_torch": 1 - in_ops / wall,
        "steps_per_update": (agent.steps_done - start_again) // updates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=10)
    parser.add_argument("--updates", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [measure(name, args.pulls, args.updates) for name in ("rl2", "l2rl", "snail")]
    lines = [
        "| agent | env-steps/s | time outside torch ops | env steps per update |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['agent']} | {r['steps_per_second']:,.0f} | "
            f"{100 * r['outside_torch']:.0f}% | {r['steps_per_update']:,} |"
        )
        print(lines[-1], flush=True)
    body = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, torch "
        f"{torch.__version__}, 1 thread, default configs, 5 arms x {args.pulls} pulls, "
        f"{TASKS} parallel tasks (`python benchmarks/meta_throughput.py --pulls {args.pulls}`). "
        'Target (issue "Meta-RL agents"): under 20% of the time outside torch ops.\n\n'
        + "\n".join(lines)
    )
    write_section(f"meta_throughput_{args.pulls}", body)


if __name__ == "__main__":
    main()
