"""Populations against lone runs: aggregate env-steps/s of a P-member population (default 64)
of an agent against one lone run of the same agent, with one torch thread and then two,
and the population's peak resident memory (issue 13, criterion 3).

Every measurement runs in a child process of its own (this script with ``--child``), so
the torch thread count is set before torch does any work, and the population's peak RSS
(``ru_maxrss`` of that child) counts neither the lone run nor this parent. Both train the
agent's default config (evaluating once, at the end, on one episode per member) for the
same number of env steps per member, through the registry: the lone run is ``make`` (a
population of one where the agent has a batched form), the population ``population``.
An agent without a population class is skipped with a line saying so.

    python benchmarks/population.py [--agents dqn a2c] [--task cartpole] [--members 64]
        [--steps 10000] [--threads 1 2] [--no-write]

Prints a Markdown table with the machine's load average before and after, and writes it
to benchmarks/README.md (section ``population``) unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.readme_section import write_section  # noqa: E402

DEFAULT_STEPS = 10_000


def child(agent: str, task_name: str, members: int, steps: int, threads: int) -> None:
    """Train once and print the measurement as one JSON line (``members`` 0: a lone run)."""
    import torch

    torch.set_num_threads(threads)
    from agents.registry import get_agent
    from envs.config import fields
    from envs.registry import get_task

    spec, task = get_agent(agent), get_task(task_name)
    names = {info.name for info in fields(spec.config)}
    settings = {"eval_interval": 10 * steps, "eval_episodes": 1}
    config = spec.config(**{k: v for k, v in settings.items() if k in names})
    if members == 0:
        learner = spec.make(config, task, task.Params(), 0)
        count = 1
    else:
        learner = spec.population([config] * members, task, task.Params(), list(range(members)))
        count = members
    began = time.perf_counter()
    for _ in learner.learn(steps):
        pass
    seconds = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "env_steps": count * steps, "peak_kib": peak_kib}))


def measure(agent: str, task: str, members: int, steps: int, threads: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", agent, task, str(members), str(steps)]
    output = subprocess.run(
        [*command, str(threads)], check=True, capture_output=True, text=True
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result | {"steps_per_second": result["env_steps"] / result["seconds"]}


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", default=["dqn", "a2c"])
    parser.add_argument("--task", default="cartpole")
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="env steps per member")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-write", action="store_true", help="do not update README.md")
    args = parser.parse_args()

    from agents.registry import get_agent

    before = load_average()
    rows = [
        "| agent | task | threads | lone env-steps/s | population env-steps/s (P members) "
        "| ratio | population peak RSS (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for agent in args.agents:
        if get_agent(agent).population is None:
            print(f"skipping {agent}: it has no population class (AgentSpec.population)")
            continue
        for threads in args.threads:
            lone = measure(agent, args.task, 0, args.steps, threads)
            population = measure(agent, args.task, args.members, args.steps, threads)
            ratio = population["steps_per_second"] / lone["steps_per_second"]
            rows.append(
                f"| {agent} | {args.task} | {threads} | {lone['steps_per_second']:,.0f} "
                f"| {population['steps_per_second']:,.0f} ({args.members}) | {ratio:.1f}× "
                f"| {population['peak_kib'] / 1024:,.0f} |"
            )
            print(rows[-1], flush=True)
    body = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} "
        f"cores), python {platform.python_version()}, {args.steps:,} env steps per member; "
        f"load average (1/5/15 min) {before} before, {load_average()} after; command: "
        f"`python benchmarks/population.py --agents {' '.join(args.agents)} --task "
        f"{args.task} --members {args.members} --steps {args.steps} --threads "
        f"{' '.join(map(str, args.threads))}`.\n\n" + "\n".join(rows)
    )
    print("\n" + body)
    if not args.no_write:
        write_section("population", body)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        agent, task, members, steps, threads = sys.argv[2:7]
        child(agent, task, int(members), int(steps), int(threads))
    else:
        main()
