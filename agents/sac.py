"""Soft Actor-Critic (Haarnoja et al. 2018) for continuous actions, with twin critics,
target critics and the entropy temperature tuned automatically, as CleanRL's
sac_continuous_action writes it.

This file is SAC's update rule; the loop, the replay and the checkpoints are
agents/common/off_policy.py's, which ddpg shares. Each step after ``learning_starts``:

- critics: y = r + gamma * (1 - terminated) * (min_i Q'_i(s', a') - alpha * log pi(a'|s'))
  with a' ~ pi(.|s'); each Q_i regresses to y (mean squared error);
- every ``policy_frequency`` steps, that many actor steps on
  E[alpha * log pi(a|s) - min_i Q_i(s, a)], a ~ pi(.|s) reparameterised, and as many
  temperature steps on E[-log(alpha) * (log pi(a|s) + target_entropy)];
- targets: Q'_i <- tau * Q_i + (1 - tau) * Q'_i.

The actor is a tanh-squashed Gaussian: u ~ N(mu(s), sigma(s)), a = tanh(u), with the
change of variables in log pi; actions are scaled to the env's bounds outside.
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

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass
class SACConfig(ContextFields, OffPolicyConfig):
    """CleanRL's defaults, which it tunes on MuJoCo and which learn Pendulum in 30k steps."""

    policy_lr: float = bounded(3e-4, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the actor."""
    q_lr: float = bounded(1e-3, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the critics (and of the temperature)."""
    policy_frequency: int = bounded(2, 1, 1000)
    """Steps between actor updates (each time that many actor steps: delayed, as TD3)."""
    autotune: bool = True
    """Tune the temperature alpha towards the target entropy -|A| (else keep alpha)."""
    alpha: float = bounded(0.2, 0.0, low_open=True)
    """Entropy temperature when autotune is off, and its starting value when it is on
    (above zero: autotune moves its logarithm)."""


class Actor(nn.Module):
    def __init__(self, observations: int, actions: int, hidden: int) -> None:
        super().__init__()
        self.body = mlp(observations, hidden, 2 * actions)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.body(obs).chunk(2, -1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        return mean, log_std

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action in (-1, 1) and its log-probability ``[B]``."""
        mean, log_std = self(obs)
        normal = torch.distributions.Normal(mean, log_std.exp())
        u = normal.rsample()
        action = torch.tanh(u)
        log_prob = normal.log_prob(u) - torch.log(1 - action.pow(2) + 1e-6)
        return action, log_prob.sum(-1)


class SAC(OffPolicyLearner):
    config: SACConfig

    def build(self) -> None:
        cfg, n, k = self.config, self.observation_size, self.action_size
        actor = Actor(n, k, cfg.hidden_size)
        q1, q2 = mlp(n + k, cfg.hidden_size, 1), mlp(n + k, cfg.hidden_size, 1)
        self.networks = {
            "actor": actor,
            "q1": q1,
            "q2": q2,
            "q1_target": copy.deepcopy(q1),
            "q2_target": copy.deepcopy(q2),
        }
        self.log_alpha = torch.tensor(float(cfg.alpha), device=self.device).log()
        self.log_alpha.requires_grad_(cfg.autotune)
        self.target_entropy = -float(k)
        self.optimizers = {
            "actor": torch.optim.Adam(actor.parameters(), lr=cfg.policy_lr),
            "q": torch.optim.Adam(
                [*q1.parameters(), *q2.parameters(), *self.encoder_parameters()], lr=cfg.q_lr
            ),
        }
        if cfg.autotune:
            self.optimizers["alpha"] = torch.optim.Adam([self.log_alpha], lr=cfg.q_lr)
        self.updates = 0

    def act(self, obs: torch.Tensor, explore: bool) -> torch.Tensor:
        actor, obs = self.networks["actor"], self.view(obs)
        if explore:
            return actor.sample(obs)[0]
        return torch.tanh(actor(obs)[0])

    def q(self, name: str, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.networks[name](torch.cat([obs, action], -1)).squeeze(-1)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg, nets = self.config, self.networks
        obs, actions = self.view(batch["observations"]), batch["actions"]  # z detached
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_obs = self.view(batch["next_observations"])
            next_actions, next_log_prob = nets["actor"].sample(next_obs)
            next_q = torch.min(
                self.q("q1_target", next_obs, next_actions),
                self.q("q2_target", next_obs, next_actions),
            )
            not_done = 1.0 - batch["terminated"]
            target = batch["rewards"] + cfg.discount * not_done * (next_q - alpha * next_log_prob)
        critic_obs = self.view(batch["observations"], train=True)  # learned: trains the encoder
        q1, q2 = self.q("q1", critic_obs, actions), self.q("q2", critic_obs, actions)
        q_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.optimizers["q"].zero_grad()
        q_loss.backward()
        self.optimizers["q"].step()
        scalars = {"losses/q_loss": q_loss.item() / 2, "losses/q_values": q1.mean().item()}

        self.updates += 1
        if self.updates % cfg.policy_frequency == 0:
            for _ in range(cfg.policy_frequency):
                new_actions, log_prob = nets["actor"].sample(obs)
                q_new = torch.min(self.q("q1", obs, new_actions), self.q("q2", obs, new_actions))
                actor_loss = (alpha * log_prob - q_new).mean()
                self.optimizers["actor"].zero_grad()
                actor_loss.backward()
                self.optimizers["actor"].step()
                if cfg.autotune:
                    entropy_gap = log_prob.detach() + self.target_entropy
                    alpha_loss = (-self.log_alpha.exp() * entropy_gap).mean()
                    self.optimizers["alpha"].zero_grad()
                    alpha_loss.backward()
                    self.optimizers["alpha"].step()
                    alpha = self.log_alpha.exp().detach()
            scalars |= {"losses/actor_loss": actor_loss.item(), "losses/alpha": alpha.item()}
        soft_update(nets["q1_target"], nets["q1"], cfg.tau)
        soft_update(nets["q2_target"], nets["q2"], cfg.tau)
        return scalars

    def extra_state(self) -> dict:
        return {"log_alpha": self.log_alpha.detach().cpu().clone(), "updates": self.updates}

    def load_extra(self, state: dict) -> None:
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.updates = int(state["updates"])
