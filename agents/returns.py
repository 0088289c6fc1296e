"""Generalised advantage estimation (Schulman et al. 2016) over a batch of rollouts."""

from __future__ import annotations

import torch


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    discount: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and value targets for (T, B) rollouts.

    ``dones[t]`` is 1 where the episode ended with step t (no bootstrap past it);
    ``last_values`` (B,) is the value of the state after the last step.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_values)
    next_values = last_values
    for t in range(steps - 1, -1, -1):
        not_done = 1.0 - dones[t]
        delta = rewards[t] + discount * next_values * not_done - values[t]
        running = delta + discount * lam * not_done * running
        advantages[t] = running
        next_values = values[t]
    return advantages, advantages + values
