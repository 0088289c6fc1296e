"""Batched task families against gymnasium's SyncVectorEnv over the single-env versions.

Steps 1024 tasks with uniformly random actions, one process, and reports env-steps/s of
the raw batch (`batch.step`), of the batched meta-episodes (with the RL^2 observation),
and of SyncVectorEnv over `family.make_env` (the same meta-episodes, one env at a time).

    python benchmarks/envs_speed.py
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.readme_section import write_section  # noqa: E402
from envs.registry import get_task  # noqa: E402

TASKS = 1024


def rate(step, steps: int) -> float:
    step()  # warm-up
    began = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * TASKS / (time.perf_counter() - began)


def measure(name: str, values: dict) -> dict:
    family = get_task(name)
    params = family.Params(**values)
    rng = np.random.default_rng(0)
    batch = family.batch(params, TASKS)
    actions = rng.integers(0, batch.num_actions, (64, TASKS))

    batch.sample_tasks(rng)
    batch.reset_trial(rng)
    counter = iter(range(10**9))
    raw = rate(lambda: batch.step(actions[next(counter) % 64], rng), 2000)

    meta = family.meta_batch(params, TASKS, rng)
    meta.reset()

    def meta_step() -> None:
        _, _, _, done = meta.step(actions[next(counter) % 64])
        if done:
            meta.reset()

    batched = rate(meta_step, 2000)
    vector = gym.vector.SyncVectorEnv([lambda: family.make_env(params) for _ in range(TASKS)])
    vector.reset(seed=0)
    sync = rate(lambda: vector.step(actions[next(counter) % 64]), 30)
    return {"family": f"{name} {values}", "raw": raw, "meta": batched, "sync": sync}


def main() -> None:
    rows = [
        measure("bandit", {"arms": 5, "pulls": 100}),
        measure("tabular-mdp", {"episodes": 10}),
    ]
    lines = [
        "| family | batch.step (env-steps/s) | batched meta-episodes | SyncVectorEnv of single "
        "envs | batched / Sync |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['family']} | {r['raw'] / 1e6:.1f} M | {r['meta'] / 1e6:.1f} M | "
            f"{r['sync'] / 1e3:.0f} k | {r['meta'] / r['sync']:.0f}× |"
        )
        print(lines[-1], flush=True)
    body = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, one process, NumPy "
        f"{np.__version__}, {TASKS} tasks, random actions (`python benchmarks/envs_speed.py`). "
        'Targets (issue "Task families"): bandit ≥ 5 M and tabular MDP ≥ 2 M env-steps/s.\n\n'
        + "\n".join(lines)
    )
    write_section("envs_speed", body)


if __name__ == "__main__":
    main()
