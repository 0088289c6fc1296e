"""The clipped PPO objective (Schulman et al. 2017) on one minibatch, and the optimiser
step after it; shared by feed-forward PPO (agents/ppo.py) and meta-episode PPO
(agents/meta_ppo.py), whose minibatches differ only in shape."""

from __future__ import annotations

import torch
from torch import nn


def clipped_ppo_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_range: float,
    value_coef: float,
    entropy_coef: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss to minimise and its parts; advantages are standardised per minibatch."""
    dist = torch.distributions.Categorical(logits=logits)
    log_ratio = dist.log_prob(actions) - old_logp
    ratio = log_ratio.exp()
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range)
    policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
    value_loss = 0.5 * (values - returns).pow(2).mean()
    entropy = dist.entropy().mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    with torch.no_grad():
        stats = {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "approx_kl": ((ratio - 1) - log_ratio).mean().item(),
            "clip_fraction": ((ratio - 1).abs() > clip_range).float().mean().item(),
        }
    return loss, stats


def clip_and_step(
    optimizer: torch.optim.Optimizer, net: nn.Module, loss: torch.Tensor, max_grad_norm: float
) -> None:
    """One optimiser step on ``loss`` with the gradient's global norm clipped."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
    optimizer.step()
