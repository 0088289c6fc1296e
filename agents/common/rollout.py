"""Fixed-length rollouts from a batched environment with gymnasium's NEXT_STEP autoreset,
shared by the on-policy agents (PPO, A2C, meta-gradient A2C)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch

Act = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
"""``act(observations) -> (actions, extras)``; extras (log-probs, values ...) are stacked."""


class Batch(NamedTuple):
    """(T, B) tensors of one rollout, and the observation after its last step.

    ``valid`` is false on the step after an episode end, which only resets the env and
    teaches nothing; ``dones`` marks steps that ended an episode, ``truncated`` those that
    ended it by a time limit (they still deserve a bootstrap from the final observation,
    which NEXT_STEP autoreset shows as the next row's observation).
    """

    data: dict[str, torch.Tensor]
    last_obs: torch.Tensor
    finished_returns: list[float]
    steps: int


class RolloutCollector:
    """Steps a batched env for a fixed number of steps at a time, keeping episodes going
    across calls."""

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        self.env = env
        self.num_envs = env.num_envs
        self.obs = torch.zeros(0)
        self.after_done = torch.zeros(self.num_envs, dtype=torch.bool)
        self.episode_return = np.zeros(self.num_envs)

    def reset(self, seed: int) -> None:
        obs, _ = self.env.reset(seed=seed)
        self.obs = torch.as_tensor(obs, dtype=torch.float32)
        self.after_done[:] = False
        self.episode_return[:] = 0.0

    def collect(self, steps: int, act: Act) -> Batch:
        columns: dict[str, list[torch.Tensor]] = {}
        finished: list[float] = []
        counted = 0

        def keep(key: str, value: torch.Tensor) -> None:
            columns.setdefault(key, []).append(value)

        for _ in range(steps):
            with torch.no_grad():
                action, extras = act(self.obs)
            next_obs, reward, terminated, truncated, _ = self.env.step(action.numpy())
            valid = ~self.after_done
            done = torch.as_tensor(terminated | truncated)
            keep("obs", self.obs)
            keep("actions", action)
            keep("valid", valid)
            keep("rewards", torch.as_tensor(reward, dtype=torch.float32))
            keep("dones", done.float())
            keep("truncated", torch.as_tensor(truncated & ~terminated).float())
            for key, value in extras.items():
                keep(key, value)
            self.episode_return += reward * valid.numpy()
            ended = (done & valid).numpy()
            finished += self.episode_return[ended].tolist()
            self.episode_return[ended] = 0.0
            counted += int(valid.sum())
            self.after_done = done
            self.obs = torch.as_tensor(next_obs, dtype=torch.float32)
        data = {key: torch.stack(values) for key, values in columns.items()}
        return Batch(data, self.obs, finished, counted)
