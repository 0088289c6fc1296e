"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016) for continuous actions, as
CleanRL's ddpg_continuous_action writes it: a deterministic tanh actor explored with
Gaussian noise, one critic, target copies of both.

This file is DDPG's update rule; the loop, the replay and the checkpoints are
agents/common/off_policy.py's, which sac shares. Each step after ``learning_starts``:

- critic: y = r + gamma * (1 - terminated) * Q'(s', mu'(s')); Q regresses to y (MSE);
- every ``policy_frequency`` steps: one actor step on -Q(s, mu(s)), then the targets
  move: theta' <- tau * theta + (1 - tau) * theta' (actor and critic).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from agents.common.context_modes import ContextFields
from agents.common.off_policy import OffPolicyConfig, OffPolicyLearner, mlp, soft_update
from envs.config import bounded


@dataclass
class DDPGConfig(ContextFields, OffPolicyConfig):
    """CleanRL's defaults, but for learning_starts (see OffPolicyConfig)."""

    learning_rate: float = bounded(3e-4, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the actor and of the critic."""
    exploration_noise: float = bounded(0.1, 0.0)
    """Standard deviation of the Gaussian noise on the actor's action (as a share of half
    the action range), clipped back into the range."""
    policy_frequency: int = bounded(2, 1, 1000)
    """Steps between actor and target updates (delayed, as TD3)."""


class DDPG(OffPolicyLearner):
    config: DDPGConfig

    def build(self) -> None:
        cfg, n, k = self.config, self.observation_size, self.action_size
        actor = nn.Sequential(mlp(n, cfg.hidden_size, k), nn.Tanh())
        critic = mlp(n + k, cfg.hidden_size, 1)
        self.networks = {
            "actor": actor,
            "critic": critic,
            "actor_target": copy.deepcopy(actor),
            "critic_target": copy.deepcopy(critic),
        }
        self.optimizers = {
            "actor": torch.optim.Adam(actor.parameters(), lr=cfg.learning_rate),
            "critic": torch.optim.Adam(
                [*critic.parameters(), *self.encoder_parameters()], lr=cfg.learning_rate
            ),
        }
        self.updates = 0

    def act(self, obs: torch.Tensor, explore: bool) -> torch.Tensor:
        action = self.networks["actor"](self.view(obs))
        if explore:
            action = action + self.config.exploration_noise * torch.randn_like(action)
        return action.clamp(-1.0, 1.0)

    def q(self, name: str, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.networks[name](torch.cat([obs, action], -1)).squeeze(-1)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg, nets = self.config, self.networks
        obs = self.view(batch["observations"])  # with an embedding: the actor's, detached
        with torch.no_grad():
            next_obs = self.view(batch["next_observations"])
            next_q = self.q("critic_target", next_obs, nets["actor_target"](next_obs))
            not_done = 1.0 - batch["terminated"]
            target = batch["rewards"] + cfg.discount * not_done * next_q
        q = self.q("critic", self.view(batch["observations"], train=True), batch["actions"])
        q_loss = F.mse_loss(q, target)
        self.optimizers["critic"].zero_grad()
        q_loss.backward()
        self.optimizers["critic"].step()
        scalars = {"losses/q_loss": q_loss.item(), "losses/q_values": q.mean().item()}

        self.updates += 1
        if self.updates % cfg.policy_frequency == 0:
            actor_loss = -self.q("critic", obs, nets["actor"](obs)).mean()
            self.optimizers["actor"].zero_grad()
            actor_loss.backward()
            self.optimizers["actor"].step()
            soft_update(nets["actor_target"], nets["actor"], cfg.tau)
            soft_update(nets["critic_target"], nets["critic"], cfg.tau)
            scalars["losses/actor_loss"] = actor_loss.item()
        return scalars

    def extra_state(self) -> dict:
        return {"updates": self.updates}

    def load_extra(self, state: dict) -> None:
        self.updates = int(state["updates"])
