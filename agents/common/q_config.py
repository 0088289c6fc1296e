"""The hyperparameters of the Q-learning agents (DQN, meta-gradient DQN, successor
features), with how the defaults were chosen; their machinery is agents/common/q_learning.py."""

from __future__ import annotations

from dataclasses import dataclass

from envs.config import MAX_STEPS, Config, ConfigError, bounded


@dataclass
class QLearningConfig(Config):
    """DQN's hyperparameters. Defaults solve CartPole-v1 in 50k env steps. They start from
    rl-baselines3-zoo's CartPole settings (lr 2.3e-3, 100k buffer, bursts of gradient steps
    every 256 env steps with the target refreshed between bursts) and change three things,
    measured over 20 seeds: 3-step returns (17 of 20 seeds end at a greedy return >= 475,
    against about half with 1-step), half as many gradient steps on minibatches twice as
    large, and a 64-unit network, because torch's per-call overhead, not arithmetic, is what
    a gradient step costs on a CPU. Runs settle from 30k steps on (squared-error loss,
    learning rate decaying to 0 at the end of the budget, and a 1M buffer that keeps the
    early failures): measured on 16-member populations (benchmarks/README.md), settling
    from 30k rather than 50k ends 50k-step runs at >= 475 for 14 and 13 of seeds 0-15 and
    16-31 (against 12 and 12), and 200k-step runs for 16 of 16."""

    learning_rate: float = bounded(2.3e-3, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size."""
    discount: float = bounded(0.99, 0.0, 1.0, per_member=True)
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
    tau: float = bounded(1.0, 0.0, 1.0, low_open=True, per_member=True)
    """Target update rate: 1 copies the online network, less is Polyak averaging."""
    initial_epsilon: float = bounded(1.0, 0.0, 1.0, per_member=True)
    """Exploration rate at the start."""
    final_epsilon: float = bounded(0.04, 0.0, 1.0, per_member=True)
    """Exploration rate after the decay."""
    exploration_fraction: float = bounded(0.16, 0.0, 1.0, per_member=True)
    """Share of the step budget over which epsilon decays linearly."""
    anneal_learning_rate: bool = False
    """Decay the learning rate linearly to zero over the step budget."""
    double_dqn: bool = True
    """Pick the next action with the online network, value it with the target network."""
    huber_loss: bool = True
    """Huber (smooth L1) TD loss until settle_from; false: the squared error throughout."""
    settle_from: int = bounded(30_000, 0, 1_000_000_000)
    """Env step from which the TD loss is the squared error (which fits the rare terminal
    transitions that Huber caps) and the learning rate decays linearly to 0 at the end."""
    max_grad_norm: float = bounded(10.0, 0.0, low_open=True, per_member=True)
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
