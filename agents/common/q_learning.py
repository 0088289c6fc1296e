"""The Q-learning machinery DQN (agents/dqn.py) and meta-gradient DQN (agents/meta_dqn.py)
share: their config fields, the Q-network and its target, epsilon-greedy acting, n-step
folding into the replay buffer, double-DQN next-state values, the TD error, target updates,
checkpoints and the learn loop (when to train, update the target, evaluate and report).
Each algorithm writes its own gradient step (``train_step``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.common.base import GreedyEvaluation, Report
from agents.common.cadence import REPORT_INTERVAL, Cadence, Ticks, crossed
from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state
from agents.common.networks import mlp
from agents.common.nstep import NStepAccumulator
from agents.common.replay import ReplayBuffer, ReplaySamples
from agents.common.seeds import train_env_seed
from envs.config import MAX_STEPS, Config, ConfigError, bounded
from envs.registry import TaskFamily


@dataclass
class QLearningConfig(Config):
    """DQN's hyperparameters. Defaults solve CartPole-v1 in 50k env steps. They start from
    rl-baselines3-zoo's CartPole settings (lr 2.3e-3, 100k buffer, bursts of gradient steps
    every 256 env steps with the target refreshed between bursts) and change three things,
    measured over 20 seeds: 3-step returns (17 of 20 seeds end at a greedy return >= 475,
    against about half with 1-step), half as many gradient steps on minibatches twice as
    large, and a 64-unit network, because torch's per-call overhead, not arithmetic, is what
    a gradient step costs on a CPU. Longer runs settle from 50k steps on (squared-error
    loss, learning rate decaying to 0, and a 1M buffer that keeps the early failures), so
    200k steps end as well as 50k do (benchmarks/README.md: 5 of 5 seeds at 500)."""

    learning_rate: float = bounded(2.3e-3, 0.0, 1.0, low_open=True, log=True)
    """Adam step size."""
    discount: float = bounded(0.99, 0.0, 1.0)
    """Discount factor gamma of the TD target."""
    n_step: int = bounded(3, 1, 100)
    """Rewards folded into one TD target before bootstrapping (1 is plain DQN)."""
    batch_size: int = bounded(128, 1, 65536)
    """Transitions per gradient step."""
    buffer_size: int = bounded(1_000_000, 1, 10_000_000)
    """Replay buffer capacity in transitions."""
    learning_starts: int = bounded(1000, 0, MAX_STEPS)
    """Env steps of pure exploration before the first update."""
    train_frequency: int = bounded(256, 1, MAX_STEPS)
    """Env steps between two training bursts."""
    gradient_steps: int = bounded(64, 1, 1_000_000)
    """Gradient steps in each training burst."""
    target_update_interval: int = bounded(256, 1, MAX_STEPS)
    """Env steps between target-network updates."""
    tau: float = bounded(1.0, 0.0, 1.0, low_open=True)
    """Target update rate: 1 copies the online network, less is Polyak averaging."""
    initial_epsilon: float = bounded(1.0, 0.0, 1.0)
    """Exploration rate at the start."""
    final_epsilon: float = bounded(0.04, 0.0, 1.0)
    """Exploration rate after the decay."""
    exploration_fraction: float = bounded(0.16, 0.0, 1.0)
    """Share of the step budget over which epsilon decays linearly."""
    anneal_learning_rate: bool = False
    """Decay the learning rate linearly to zero over the step budget."""
    double_dqn: bool = True
    """Pick the next action with the online network, value it with the target network."""
    huber_loss: bool = True
    """Huber (smooth L1) TD loss until settle_from; false: the squared error throughout."""
    settle_from: int = bounded(50_000, 0, 1_000_000_000)
    """Env step from which the TD loss is the squared error (which fits the rare terminal
    transitions that Huber caps) and the learning rate decays linearly to 0 at the end."""
    max_grad_norm: float = bounded(10.0, 0.0, low_open=True)
    """Gradient clipping threshold (global L2 norm)."""
    hidden_size: int = bounded(64, 1, 4096)
    """Units per hidden layer of the Q-network."""
    hidden_layers: int = bounded(2, 1, 8)
    """Hidden layers of the Q-network."""
    num_envs: int = bounded(1, 1, 1024)
    """Environment copies stepped together (one batched env)."""
    eval_interval: int = bounded(5000, 1, MAX_STEPS)
    """Env steps between greedy evaluations (one is always run at the end)."""
    eval_episodes: int = bounded(20, 1, 1000)
    """Greedy episodes per evaluation."""

    def check(self) -> None:
        if self.final_epsilon > self.initial_epsilon:
            raise ConfigError(
                f"final_epsilon={self.final_epsilon} exceeds initial_epsilon="
                f"{self.initial_epsilon}: epsilon decays, so final must be the smaller"
            )


class QLearner(GreedyEvaluation):
    """A Q-network over a batched environment of discrete actions, and everything around its
    update; subclasses write ``train_step``."""

    accumulator_discount: float | None = None
    """Discount folded into n-step returns as they enter the replay; None: config.discount."""

    def __init__(
        self, config: QLearningConfig, task: TaskFamily, task_params: Config, seed: int
    ) -> None:
        self.config = config
        self.task, self.task_params, self.seed = task, task_params, seed
        self.env = task.make_vector_env(task_params, config.num_envs)
        self.observation_size = int(np.prod(self.env.single_observation_space.shape))
        self.num_actions = int(self.env.single_action_space.n)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        make_net = lambda: mlp(  # noqa: E731
            self.observation_size, self.num_actions, config.hidden_size, config.hidden_layers
        )
        self.q_network = make_net()
        self.target_network = make_net()
        self.target_network.load_state_dict(self.q_network.state_dict())
        self.optimizer = torch.optim.Adam(
            self.q_network.parameters(), lr=config.learning_rate, fused=True
        )
        self.buffer = ReplayBuffer(config.buffer_size, (self.observation_size,))
        self.n_step = NStepAccumulator(
            config.num_envs, config.n_step, self.accumulator_discount or config.discount
        )
        self.steps_done = 0
        self.evaluations = 0

    # --- acting -------------------------------------------------------------------------
    def epsilon(self, total_steps: int) -> float:
        cfg = self.config
        decay_steps = cfg.exploration_fraction * total_steps
        progress = 1.0 if decay_steps == 0 else min(1.0, self.steps_done / decay_steps)
        return cfg.initial_epsilon + progress * (cfg.final_epsilon - cfg.initial_epsilon)

    @torch.no_grad()
    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        q_values = self.q_network(torch.as_tensor(observations, dtype=torch.float32))
        return q_values.argmax(dim=1).numpy()

    def act(self, observations: np.ndarray, epsilon: float) -> np.ndarray:
        explore = self.rng.random(len(observations)) < epsilon
        actions = self.rng.integers(0, self.num_actions, len(observations))
        if not explore.all():
            actions = np.where(explore, actions, self.greedy_actions(observations))
        return actions

    # --- the parts of an update ----------------------------------------------------------
    def next_state_values(self, batch: ReplaySamples) -> torch.Tensor:
        """max_a Q_target(s', a), or Q_target(s', argmax_a Q(s', a)) with double DQN."""
        next_q = self.target_network(batch.next_observations)
        if self.config.double_dqn:
            best = self.q_network(batch.next_observations).argmax(dim=1, keepdim=True)
            return next_q.gather(1, best).squeeze(1)
        return next_q.max(dim=1).values

    def td_error(self, q_taken: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.huber_loss and self.steps_done < cfg.settle_from:
            return nn.functional.smooth_l1_loss(q_taken, target)
        return nn.functional.mse_loss(q_taken, target)

    def train_step(self) -> tuple[float, float]:
        """One gradient step; returns (TD loss, mean Q of the taken actions)."""
        raise NotImplementedError

    def burst_scalars(self) -> dict[str, float]:
        """Extra scalars reported after each training burst (subclasses add theirs)."""
        return {}

    @torch.no_grad()
    def update_target(self) -> None:
        tau = self.config.tau
        for target, online in zip(
            self.target_network.parameters(), self.q_network.parameters(), strict=True
        ):
            target.lerp_(online, tau)

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        cfg = self.config
        env = self.env
        cadence = Cadence(total_steps, cfg.eval_interval, REPORT_INTERVAL)
        ticks = Ticks(tick_seconds)
        # A resumed run starts fresh episodes, seeded by where it resumes.
        observations, _ = env.reset(seed=train_env_seed(self.seed, self.steps_done))
        self.n_step.reset()
        after_done = np.zeros(cfg.num_envs, dtype=bool)  # next step only resets (NEXT_STEP)
        episode_return = np.zeros(cfg.num_envs)
        episode_length = np.zeros(cfg.num_envs, dtype=np.int64)
        while self.steps_done < total_steps:
            actions = self.act(observations, self.epsilon(total_steps))
            next_observations, rewards, terminated, truncated, _ = env.step(actions)
            real = ~after_done
            folded = self.n_step.push(
                observations, actions, rewards, next_observations, terminated, truncated, real
            )
            if folded is not None:
                self.buffer.add(*folded)
            before = self.steps_done
            self.steps_done += int(real.sum())
            episode_return += rewards * real
            episode_length += real
            scalars: dict[str, float] = {}
            done = (terminated | truncated) & real
            if done.any():
                scalars["charts/episode_return"] = float(episode_return[done].mean())
                scalars["charts/episode_length"] = float(episode_length[done].mean())
                scalars["charts/epsilon"] = self.epsilon(total_steps)
                episode_return[done] = 0.0
                episode_length[done] = 0
            after_done = terminated | truncated
            observations = next_observations

            if self.steps_done >= cfg.learning_starts and crossed(
                before, self.steps_done, cfg.train_frequency
            ):
                left = max(0, total_steps - self.steps_done)  # batched envs may overshoot
                remaining = left / total_steps if cfg.anneal_learning_rate else 1.0
                if self.steps_done > cfg.settle_from:
                    remaining *= left / max(1, total_steps - cfg.settle_from)
                self.optimizer.param_groups[0]["lr"] = cfg.learning_rate * remaining
                losses, q_values = [], []
                for _ in range(cfg.gradient_steps):
                    loss, q_value = self.train_step()
                    losses.append(loss)
                    q_values.append(q_value)
                    if ticks.due():
                        yield Report(self.steps_done, {}, tick=True)
                scalars["train/td_loss"] = float(np.mean(losses))
                scalars["train/q_values"] = float(np.mean(q_values))
                scalars.update(self.burst_scalars())
            if crossed(before, self.steps_done, cfg.target_update_interval):
                self.update_target()
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                returns = self.evaluate(cfg.eval_episodes)
                scalars["eval/episode_return"] = float(returns.mean())
                scalars["eval/episode_return_std"] = float(returns.std())
            if due.report or scalars:  # every finished episode and training burst is logged
                yield Report(self.steps_done, scalars)

    # --- checkpoints (evaluation comes from GreedyEvaluation) ----------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "q_network": self.q_network.state_dict(),
            "target_network": self.target_network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "steps_done": self.steps_done,
            "evaluations": self.evaluations,
            "rng": numpy_rng_state(self.rng),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q_network.load_state_dict(state["q_network"])
        self.target_network.load_state_dict(state["target_network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        self.steps_done = int(state["steps_done"])
        self.evaluations = int(state["evaluations"])
        set_numpy_rng_state(self.rng, state["rng"])
        torch.set_rng_state(state["torch_rng"])

    def weights(self) -> dict[str, Any]:
        return {"q_network": self.q_network.state_dict()}

    def load_weights(self, state: dict[str, Any]) -> None:
        self.q_network.load_state_dict(state["q_network"])
        self.target_network.load_state_dict(state["q_network"])
