"""Fixed-length rollouts of a population's environments (envs/population.py: P members of
``n`` copies each, gymnasium's NEXT_STEP autoreset), shared by the on-policy agents (PPO,
A2C, meta-gradient A2C). A lone run is a population of one.

Tensors are ``[T, P, n]``: time first, as the returns recursion (returns.py) walks it,
then the member axis the stacked networks take first (agents/common/stacked.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

Act = Callable[[torch.Tensor, int], tuple[torch.Tensor, dict[str, torch.Tensor]]]
"""``act(observations [P, n, ...], t) -> (actions [P, n], extras)`` at step t of the
rollout; extras (log-probs, values ...) are stacked like the actions."""


class Batch(NamedTuple):
    """``[T, P, n]`` tensors of one rollout, and the observations after its last step.

    ``valid`` is false on the step after an episode end, which only resets the env and
    teaches nothing; ``dones`` marks steps that ended an episode, ``truncated`` those that
    ended it by a time limit (they still deserve a bootstrap from the final observation,
    which NEXT_STEP autoreset shows as the next row's observation). ``finished_sums`` and
    ``finished_counts`` (``[P]``) are the returns of the episodes each member finished.
    """

    data: dict[str, torch.Tensor]
    last_obs: torch.Tensor
    finished_sums: np.ndarray
    finished_counts: np.ndarray


class RolloutCollector:
    """Steps the members' envs a fixed number of steps at a time, keeping episodes going
    across calls. What the envs return stays in NumPy until the rollout ends, so a step
    costs one forward pass and one env step, whatever the number of members."""

    def __init__(self, env, members: int, device: torch.device | str = "cpu") -> None:
        self.env, self.members, self.device = env, members, device
        self.shape = (members, env.num_envs // members)
        self.obs = torch.zeros(0)
        self.after_done = np.zeros(self.shape, dtype=bool)
        self.episode_return = np.zeros(self.shape)

    def observe(self, obs: np.ndarray) -> torch.Tensor:
        obs = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return obs.reshape(*self.shape, *obs.shape[1:])

    def reset(self, seeds: Sequence[int]) -> None:
        """Member m's envs reset with ``seeds[m]``."""
        obs, _ = self.env.reset([int(seed) for seed in seeds])
        self.obs = self.observe(obs)
        self.after_done[:] = False
        self.episode_return[:] = 0.0

    def collect(self, steps: int, act: Act) -> Batch:
        tensors: dict[str, list[torch.Tensor]] = {"obs": [], "actions": []}
        arrays: dict[str, list[np.ndarray]] = {
            key: [] for key in ("valid", "rewards", "dones", "truncated")
        }
        finished_sums = np.zeros(self.members)
        finished_counts = np.zeros(self.members, dtype=np.int64)
        for t in range(steps):
            with torch.no_grad():
                action, extras = act(self.obs, t)
            next_obs, reward, terminated, truncated, _ = self.env.step(
                action.reshape(-1).cpu().numpy()
            )
            reward, terminated, truncated = (
                np.asarray(x).reshape(self.shape) for x in (reward, terminated, truncated)
            )
            valid = ~self.after_done
            done = terminated | truncated
            tensors["obs"].append(self.obs)
            tensors["actions"].append(action)
            for key, value in extras.items():
                tensors.setdefault(key, []).append(value)
            arrays["valid"].append(valid)
            arrays["rewards"].append(reward)
            arrays["dones"].append(done)
            arrays["truncated"].append(truncated & ~terminated)
            self.episode_return += reward * valid
            ended = done & valid
            if ended.any():
                finished_sums += (self.episode_return * ended).sum(1)
                finished_counts += ended.sum(1)
                self.episode_return[ended] = 0.0
            self.after_done = done
            self.obs = self.observe(next_obs)
        data = {key: torch.stack(values) for key, values in tensors.items()}
        for key, values in arrays.items():
            dtype = torch.bool if key == "valid" else torch.float32
            data[key] = torch.as_tensor(np.stack(values), dtype=dtype, device=self.device)
        return Batch(data, self.obs, finished_sums, finished_counts)
