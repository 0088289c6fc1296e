"""Issue 16, VariBAD done-when 2: does the posterior mean something?

For a trained varibad run on `gridworld`, plays held-out tasks (the run's own held-out
seed, as `workbench eval` does) and reads the reward decoder's goal probability at every
step after the goal was first reached (`agents.varibad.goal_belief`): the share on the
true goal, averaged over those steps, per task.

    python benchmarks/varibad_belief.py RUN_ID --home DIR [--tasks 2000] [--checkpoint best]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from agents.common.seeds import EVAL_SEED_OFFSET
from agents.varibad import VariBAD, goal_belief
from workbench.runner import load_trained
from workbench.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=int)
    parser.add_argument("--home", required=True)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--checkpoint", default="last", choices=("last", "best"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = Store(args.home)
    try:
        run = store.get_run(args.run)
        agent = load_trained(store, run, args.checkpoint)
    finally:
        store.close()
    if not isinstance(agent, VariBAD) or run.task != "gridworld":
        raise SystemExit(f"run {run.id} is {run.agent} on {run.task}; need varibad on gridworld")
    share = goal_belief(agent.net, agent.task_params, args.tasks, EVAL_SEED_OFFSET + run.seed)
    reached = ~np.isnan(share)
    print(
        f"run {run.id} ({args.checkpoint} checkpoint, step {agent.steps_done}), "
        f"{args.tasks} held-out tasks: goal reached in {reached.mean():.1%}; "
        f"after it, the decoder's goal share on the true goal: "
        f"median {np.median(share[reached]):.3f}, mean {share[reached].mean():.3f}, "
        f">= 0.9 in {(share[reached] >= 0.9).mean():.1%} of those tasks "
        f"({(share >= 0.9).sum()} of all {args.tasks})"
    )


if __name__ == "__main__":
    main()
