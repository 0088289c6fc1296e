"""Our DQN against Stable-Baselines3's DQN on CartPole-v1: wall time to solve and env-steps/s.

Both run in this one process, on the same seeds, with the same torch thread count, each
for 50k env steps with a greedy evaluation (20 episodes, batched) every 5k steps.
Evaluation time is excluded from both clocks. SB3 uses rl-baselines3-zoo's CartPole-v1
hyperparameters; ours uses its defaults. Needs the `bench` extra (`make bench`).

    python benchmarks/dqn_cartpole.py [--seeds 0 1 2 3 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.common.base import greedy_episode_returns  # noqa: E402
from agents.dqn import DQN, DQNConfig  # noqa: E402
from benchmarks.readme_section import write_section  # noqa: E402
from envs.control import CartPoleParams
from envs.registry import get_task  # noqa: E402

STEPS, EVAL_INTERVAL, EVAL_EPISODES, SOLVED = 50_000, 5_000, 20, 475.0

ZOO_CARTPOLE = dict(
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)


@dataclass
class Result:
    library: str
    seed: int
    train_seconds: float = 0.0
    solve_seconds: float | None = None
    solve_step: int | None = None
    evals: list[float] = field(default_factory=list)

    @property
    def steps_per_second(self) -> float:
        return STEPS / self.train_seconds


class Stopwatch:
    """Training time with evaluation excluded."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.excluded = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.excluded


def greedy_evaluation(act, seed: int) -> float:
    """Mean return of EVAL_EPISODES greedy episodes run together in one batched env."""
    env = gym.make_vec(
        "CartPole-v1", num_envs=EVAL_EPISODES, vectorization_mode="vector_entry_point"
    )
    return float(greedy_episode_returns(env, act, seed).mean())


def record(result: Result, watch: Stopwatch, step: int, act) -> None:
    paused = time.perf_counter()
    value = greedy_evaluation(act, seed=10_000 + 97 * result.seed + step)
    watch.excluded += time.perf_counter() - paused
    result.evals.append(value)
    if value >= SOLVED and result.solve_seconds is None:
        result.solve_seconds, result.solve_step = watch.elapsed(), step


def run_ours(seed: int) -> Result:
    config = DQNConfig(eval_interval=STEPS * 10, eval_episodes=1)  # we evaluate here instead
    agent = DQN([config], get_task("cartpole"), CartPoleParams(), [seed])  # a lone run
    result, watch, next_eval = Result("workbench", seed), Stopwatch(), EVAL_INTERVAL
    for report in agent.learn(STEPS):
        if report.step >= next_eval:
            record(result, watch, next_eval, agent.greedy_actions)
            next_eval += EVAL_INTERVAL
    result.train_seconds = watch.elapsed()
    return result


def run_sb3(seed: int) -> Result:
    from stable_baselines3 import DQN as SB3DQN
    from stable_baselines3.common.callbacks import BaseCallback

    result = Result("stable-baselines3", seed)
    model = SB3DQN("MlpPolicy", "CartPole-v1", seed=seed, device="cpu", verbose=0, **ZOO_CARTPOLE)

    class Evaluate(BaseCallback):
        def _on_training_start(self) -> None:
            self.watch = Stopwatch()

        def _on_step(self) -> bool:
            if self.num_timesteps % EVAL_INTERVAL == 0:
                record(
                    result,
                    self.watch,
                    self.num_timesteps,
                    lambda obs: model.predict(obs, deterministic=True)[0],
                )
            return True

    callback = Evaluate()
    model.learn(STEPS, callback=callback)
    result.train_seconds = callback.watch.elapsed()
    return result


def table(results: list[Result]) -> str:
    lines = [
        "| library | seed | time to eval ≥ 475 (s) | at step | final eval | env-steps/s "
        "| evals every 5k |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        solve = "not solved" if r.solve_seconds is None else f"{r.solve_seconds:.1f}"
        lines.append(
            f"| {r.library} | {r.seed} | {solve} | {r.solve_step or '-'} | {r.evals[-1]:.1f} | "
            f"{r.steps_per_second:,.0f} | {' '.join(f'{v:.0f}' for v in r.evals)} |"
        )
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    def of(library: str) -> list[Result]:
        return [r for r in results if r.library == library]

    ours, sb3 = of("workbench"), of("stable-baselines3")

    def median_solve(rs: list[Result]) -> float:
        # An unsolved run counts as its whole training time: it never got there.
        return statistics.median(r.solve_seconds or float("inf") for r in rs)

    def speed(rs: list[Result]) -> float:
        return statistics.mean(r.steps_per_second for r in rs)

    solved = lambda rs: sum(r.solve_seconds is not None for r in rs)  # noqa: E731
    ratio = median_solve(ours) / median_solve(sb3)
    return (
        f"Median time to solve: ours {median_solve(ours):.1f} s ({solved(ours)}/{len(ours)} seeds "
        f"solved), SB3 {median_solve(sb3):.1f} s ({solved(sb3)}/{len(sb3)}); ratio "
        f"**{ratio:.2f}×** (target ≤ 0.5×). Mean env-steps/s: ours {speed(ours):,.0f}, "
        f"SB3 {speed(sb3):,.0f} ({speed(ours) / speed(sb3):.1f}× faster)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not update README.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for seed in args.seeds:
        for run in (run_ours, run_sb3):
            results.append(run(seed))
            print(table(results[-1:]).splitlines()[-1], flush=True)
    body = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}, "
        f"python {platform.python_version()}; command: `python benchmarks/dqn_cartpole.py "
        f"--seeds {' '.join(map(str, args.seeds))} --threads {args.threads}`.\n\n"
        + table(results)
        + "\n\n"
        + summary(results)
    )
    print("\n" + summary(results))
    if not args.no_write:
        write_section("dqn_cartpole", body)


if __name__ == "__main__":
    main()
