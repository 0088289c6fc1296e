"""Learning to Reinforcement Learn (Wang et al. 2016): an LSTM actor-critic trained with
advantage actor-critic and n-step returns across tasks, on synchronous batches of
meta-episodes (agents/common/meta_learner.py) instead of asynchronous A3C threads.

The LSTM reads the meta-episode inputs (observation, previous action one-hot, reward,
trial-done flag, normalised time); its state is kept across trials and reset per task.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.common.base import Report
from agents.common.cadence import Cadence, Ticks
from agents.common.meta_learner import MetaConfig, MetaLearner
from agents.common.sequence import RecurrentPolicy
from envs.config import bounded


@dataclass
class L2RLConfig(MetaConfig):
    discount: float = bounded(0.9, 0.0, 1.0)
    """Discount of the meta-episode return (Wang et al. use 0.9 on bandits)."""
    value_coef: float = bounded(0.05, 0.0)
    """Weight of the value loss (Wang et al.: 0.05)."""
    entropy_coef: float = bounded(0.01, 0.0)
    """Weight of the entropy bonus."""
    num_tasks: int = bounded(32, 1, 65536)
    """Meta-episodes played in parallel (the synchronous stand-in for A3C's threads)."""
    n_steps: int = bounded(20, 1, 100_000)
    """Steps per update: rewards summed before bootstrapping, and the truncation of
    back-propagation through time; the LSTM state carries over (A3C's t_max)."""
    hidden_size: int = bounded(48, 1, 4096)
    """Units of the LSTM (Wang et al. use 48 on bandits)."""
    normalize_advantages: bool = True
    """Standardise each update's advantages."""


def detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class L2RL(MetaLearner):
    config: L2RLConfig

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        return RecurrentPolicy(inputs, actions, self.config.hidden_size, cell="lstm")

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        cfg, env = self.config, self.env
        cadence = Cadence(total_steps, cfg.eval_interval)  # a report per meta-episode batch
        ticks = Ticks(tick_seconds)
        while self.steps_done < total_steps:
            before = self.steps_done
            obs, state = env.reset(), None
            totals = torch.zeros(env.num_tasks, device=self.device)
            stats: list[dict[str, float]] = []
            for start in range(0, env.horizon, cfg.n_steps):
                segment_start_state = detach(state)
                inputs, actions, rewards = [], [], []
                with torch.no_grad():
                    for _ in range(min(cfg.n_steps, env.horizon - start)):
                        x = torch.from_numpy(obs)[None].to(self.device)
                        logits, _, state = self.net(x, state)
                        action = torch.distributions.Categorical(logits=logits[0]).sample()
                        obs, reward, _, done = env.step(action.cpu().numpy())
                        inputs.append(x[0])
                        actions.append(action)
                        reward = np.asarray(reward, dtype=np.float32)
                        rewards.append(torch.from_numpy(reward).to(self.device))
                    # Value of the state after the segment (none after the meta-episode).
                    after = self.net(torch.from_numpy(obs)[None].to(self.device), state)[1][0]
                    bootstrap = torch.zeros(env.num_tasks, device=self.device) if done else after
                segment = torch.stack(rewards)
                totals += segment.sum(0)
                stats.append(
                    self.update_segment(
                        torch.stack(inputs),
                        torch.stack(actions),
                        segment,
                        segment_start_state,
                        bootstrap,
                    )
                )
                if ticks.due():  # inside the meta-episode: a resume starts a fresh one
                    yield Report(self.steps_done, {}, tick=True)
            self.steps_done += env.horizon * env.num_tasks
            scalars = {key: float(np.mean([s[key] for s in stats])) for key in stats[0]}
            scalars["charts/meta_episode_return"] = float(totals.mean())
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                scalars.update(self.evaluation_scalars())
            if due.report:
                yield Report(self.steps_done, scalars)

    def update_segment(self, inputs, actions, rewards, start_state, bootstrap) -> dict[str, float]:
        """One A2C step on a segment, re-run from its (detached) starting LSTM state."""
        cfg = self.config
        logits, values, _ = self.net(inputs, start_state)
        targets = torch.zeros_like(rewards)
        running = bootstrap
        for t in range(rewards.shape[0] - 1, -1, -1):
            running = rewards[t] + cfg.discount * running
            targets[t] = running
        advantages = targets - values.detach()
        if cfg.normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        dist = torch.distributions.Categorical(logits=logits)
        policy_loss = -(dist.log_prob(actions) * advantages).mean()
        value_loss = 0.5 * (targets - values).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return {
            "train/policy_loss": policy_loss.item(),
            "train/value_loss": value_loss.item(),
            "train/entropy": entropy.item(),
        }
