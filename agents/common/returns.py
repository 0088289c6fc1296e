"""Generalised advantage estimation (Schulman et al. 2016) over a batch of rollouts.

The discount may be a tensor that requires grad: meta-gradient agents differentiate the
returns with respect to it (agents/mg_a2c.py). The discount and lambda may also be one per
member of a population: ``[P, 1]`` tensors broadcast against ``[T, P, n]`` rollouts
(agents/common/rollout.py), so each member's returns use only its own values.
"""

from __future__ import annotations

import torch


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    discount: float | torch.Tensor,
    lam: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and value targets for (T, ...) rollouts.

    ``dones[t]`` is 1 where the episode ended with step t (no bootstrap past it);
    ``last_values`` (...) is the value of the state after the last step.
    """
    steps = rewards.shape[0]
    advantages = []
    running = torch.zeros_like(last_values)
    next_values = last_values
    for t in range(steps - 1, -1, -1):
        not_done = 1.0 - dones[t]
        delta = rewards[t] + discount * next_values * not_done - values[t]
        running = delta + discount * lam * not_done * running
        advantages.append(running)
        next_values = values[t]
    stacked = torch.stack(advantages[::-1])
    return stacked, stacked + values


def rollout_gae(
    data: dict[str, torch.Tensor],
    values: torch.Tensor,
    last_values: torch.Tensor,
    discount: float | torch.Tensor,
    lam: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over a rollout of agents/common/rollout.py, bootstrapping time-limit truncations.

    Every episode end stops the recursion. A truncated one still deserves
    gamma * V(final observation): with NEXT_STEP autoreset the step after an end sees that
    final observation, so it is the next row's value.
    """
    next_values = torch.cat([values[1:], last_values[None]])
    rewards = data["rewards"] + discount * data["truncated"] * next_values
    return gae(rewards, values, data["dones"], last_values, discount, lam)
