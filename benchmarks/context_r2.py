"""Issue 15, done-when 2: do the context embeddings carry the dynamics?

For stored dqn runs with an encoded context mode (learned, predictive, probing) on a
contextual family, loads each run's last checkpoint, plays one episode at each of N
held-out contexts of the training distribution (`agents.common.contexts.embedding_r2`),
fits a linear probe from the embedding the Q-network reads (where it is first complete:
a full window, the probe's end; one point per episode) to the true varied factors on
half of the contexts and prints R² on the other half, per factor, under the agent's own
greedy policy and under uniform random actions; then the mean over the runs of each mode.

    python benchmarks/context_r2.py RUN_ID... --home DIR [--contexts 400] [--seed 123]

The runs of `workbench report context` are listed at the end of its table (or in its
--json output, the `runs` of each cell).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch

from agents.common.contexts import embedding_r2
from envs.config import restore
from envs.registry import get_task
from workbench.runner import load_trained
from workbench.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=int, nargs="+")
    parser.add_argument("--home", required=True)
    parser.add_argument("--contexts", type=int, default=400)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = Store(args.home)
    by_mode: dict[tuple[str, str], list[tuple[float, ...]]] = defaultdict(list)
    names: tuple[str, ...] = ()
    try:
        for run_id in args.runs:
            run = store.get_run(run_id)
            family = get_task(run.task)
            params = restore(family.Params, run.task_params, owner=run.task)
            agent = load_trained(store, run, "last")
            mode = run.config.get("context", "hidden")
            for behaviour in ("greedy", "random"):
                fit = embedding_r2(
                    agent,
                    family,
                    params,
                    contexts=args.contexts,
                    seed=args.seed,
                    behaviour=behaviour,
                )
                names = fit.factor_names
                by_mode[mode, behaviour].append(fit.r2)
                r2 = ", ".join(f"{n} {r:.3f}" for n, r in zip(names, fit.r2, strict=True))
                print(
                    f"run {run.id} ({mode}, seed {run.seed}), {behaviour}: R² {r2} "
                    f"({fit.train_points} fit, {fit.test_points} held-out episodes)",
                    flush=True,
                )
    finally:
        store.close()
    print("mean over runs:")
    for (mode, behaviour), fits in by_mode.items():
        means = np.mean(np.array(fits), axis=0)
        r2 = ", ".join(f"{n} {r:.3f}" for n, r in zip(names, means, strict=True))
        print(f"  {mode:<10} {behaviour:<6} R² {r2} ({len(fits)} runs)")


if __name__ == "__main__":
    main()
