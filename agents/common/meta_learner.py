"""What the meta-RL agents share: the loop over batches of meta-episodes, held-out
evaluation and checkpoints. An agent adds its network (``make_net``) and update rule
(``update``; l2rl also its own loop, which updates inside a meta-episode).

Every update plays one meta-episode on each of ``num_tasks`` freshly sampled tasks at once
through the family's batched version (no per-task Python loop), then learns from them.
Evaluation plays held-out tasks drawn from a generator seeded apart from training's.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.common.base import Report, ci95
from agents.common.cadence import Cadence, Ticks
from agents.common.checkpoint import NetOptimizerCheckpoint
from agents.common.seeds import held_out_task_seed
from agents.common.sequence import play_meta_episodes
from envs.config import MAX_STEPS, Config, bounded
from envs.family import TaskFamily


@dataclass
class MetaConfig(Config):
    learning_rate: float = bounded(1e-3, 0.0, 1.0, low_open=True, log=True)
    """Adam step size."""
    discount: float = bounded(0.99, 0.0, 1.0)
    """Discount of the meta-episode return (trial ends are not episode ends)."""
    value_coef: float = bounded(0.5, 0.0)
    """Weight of the value loss."""
    entropy_coef: float = bounded(0.003, 0.0)
    """Weight of the entropy bonus."""
    max_grad_norm: float = bounded(0.5, 0.0, low_open=True)
    """Gradient clipping threshold (global L2 norm)."""
    num_tasks: int = bounded(1024, 1, 65536)
    """Tasks (meta-episodes) played in parallel per update."""
    eval_interval: int = bounded(500_000, 1, MAX_STEPS)
    """Env steps between evaluations on held-out tasks (one is always run at the end)."""
    eval_tasks: int = bounded(2000, 2, 1_000_000)
    """Held-out tasks per evaluation."""
    eval_greedy: bool = True
    """Evaluate with the most likely action instead of sampling."""


class MetaLearner(NetOptimizerCheckpoint):
    """Plays batches of meta-episodes and hands them to ``update``."""

    config: MetaConfig

    def __init__(
        self,
        config: MetaConfig,
        task: TaskFamily,
        task_params: Config,
        seed: int,
        device: str = "cpu",
    ) -> None:
        self.config, self.task, self.task_params, self.seed = config, task, task_params, seed
        self.device = torch.device(device)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.env = task.meta_batch(task_params, config.num_tasks, self.rng)
        self.net = self.make_net(self.env.observation_size, self.env.num_actions).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.learning_rate, eps=1e-5)
        self.steps_done = self.evaluations = 0

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        raise NotImplementedError

    def update(
        self, rollout: dict[str, torch.Tensor], ticks: Ticks
    ) -> Generator[Report, None, dict[str, float]]:
        """Learn from a batch of meta-episodes: yield the ticks that fall due between
        gradient steps, return the update's scalars."""
        raise NotImplementedError

    def evaluate(self, tasks: int) -> np.ndarray:
        """Total reward of one meta-episode on each of ``tasks`` held-out tasks (the same
        tasks at every evaluation, so successive evaluations are paired)."""
        self.evaluations += 1
        return evaluate_on(
            self.net,
            self.task,
            self.task_params,
            tasks,
            held_out_task_seed(self.seed),
            self.config.eval_greedy,
        )

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        cadence = Cadence(total_steps, self.config.eval_interval)  # a report per update
        ticks = Ticks(tick_seconds)
        while self.steps_done < total_steps:
            before = self.steps_done
            rollout = play_meta_episodes(self.net, self.env)
            self.steps_done += rollout["rewards"].numel()
            scalars = yield from self.update(rollout, ticks)
            scalars["charts/meta_episode_return"] = float(rollout["rewards"].sum(0).mean())
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                scalars.update(self.evaluation_scalars())
            if due.report:
                yield Report(self.steps_done, scalars)

    def evaluation_scalars(self) -> dict[str, float]:
        """Mean and 95% half-width of the meta-episode return on the held-out tasks."""
        returns = self.evaluate(self.config.eval_tasks)
        return {
            "eval/meta_episode_return": float(returns.mean()),
            "eval/meta_episode_return_ci95": ci95(returns),
        }


def evaluate_on(
    net: nn.Module, family: TaskFamily, params: Config, tasks: int, seed: int, greedy: bool
) -> np.ndarray:
    """Totals of one meta-episode per task on ``tasks`` tasks drawn with ``seed``."""
    return trial_rewards(net, family, params, tasks, seed, greedy).sum(0)


def trial_rewards(
    net: nn.Module, family: TaskFamily, params: Config, tasks: int, seed: int, greedy: bool
) -> np.ndarray:
    """Reward of each trial (an episode, or a pull) of one meta-episode per task on
    ``tasks`` tasks drawn with ``seed``: shape (trials, tasks)."""
    env = family.meta_batch(params, tasks, np.random.default_rng(seed))
    rewards = play_meta_episodes(net, env, greedy=greedy)["rewards"].cpu().numpy()
    return rewards.reshape(env.trials, -1, tasks).sum(1)
