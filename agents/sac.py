"""Soft Actor-Critic (Haarnoja et al. 2018) for continuous actions, with twin critics,
target critics and the entropy temperature tuned automatically, as CleanRL's
sac_continuous_action writes it.

This file is SAC's update rule; the loop, the replay and the checkpoints are
agents/common/off_policy.py's, which ddpg shares. Every member of a population (a lone run
is a population of one) does, each step after ``learning_starts``, on its own minibatch:

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

import math
from dataclasses import dataclass

import torch
from torch import nn

from agents.common import stacked
from agents.common.context_modes import ContextFields
from agents.common.off_policy import OffPolicyConfig, OffPolicyMembers, mlp
from envs.config import bounded

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass
class SACConfig(ContextFields, OffPolicyConfig):
    """CleanRL's defaults, which it tunes on MuJoCo and which learn Pendulum in 30k steps."""

    policy_lr: float = bounded(3e-4, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size of the actor."""
    q_lr: float = bounded(1e-3, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size of the critics (and of the temperature)."""
    policy_frequency: int = bounded(2, 1, 1000)
    """Steps between actor updates (each time that many actor steps: delayed, as TD3)."""
    autotune: bool = True
    """Tune the temperature alpha towards the target entropy -|A| (else keep alpha)."""
    alpha: float = bounded(0.2, 0.0, low_open=True, per_member=True)
    """Entropy temperature when autotune is off, and its starting value when it is on
    (above zero: autotune moves its logarithm)."""


class Actor(nn.Module):
    """One member's actor: the mean and the log standard deviation of u from ``body``."""

    def __init__(self, observations: int, actions: int, hidden: int) -> None:
        super().__init__()
        self.body = mlp(observations, hidden, 2 * actions)


class SAC(OffPolicyMembers):
    config: SACConfig
    TARGETS = ("q1", "q2")

    def build_networks(self) -> dict[str, nn.Module]:
        n, k, hidden = self.observation_size, self.action_size, self.config.hidden_size
        return {
            "actor": Actor(n, k, hidden),
            "q1": mlp(n + k, hidden, 1),
            "q2": mlp(n + k, hidden, 1),
        }

    def make_optimizers(self) -> dict[str, stacked.StackedAdam]:
        params = self.params
        self.log_alpha = self.per_member("alpha").log().requires_grad_(self.config.autotune)
        self.target_entropy = -float(self.action_size)
        critics = [*params["q1"].values(), *params["q2"].values(), *self.encoder_parameters()]
        optimizers = {
            "actor": self.adam(list(params["actor"].values()), "policy_lr"),
            "q": self.adam(critics, "q_lr"),
        }
        if self.config.autotune:
            optimizers["alpha"] = self.adam([self.log_alpha], "q_lr")
        return optimizers

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action in (-1, 1) ``[P, B, k]`` and its log-probability
        ``[P, B]``: u ~ N(mean, std) with each member's noise, a = tanh(u)."""
        mean, log_std = self.actor(obs)
        noise = self.normal(mean.shape[1:])
        u = mean + log_std.exp() * noise
        action = torch.tanh(u)
        log_prob = -0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
        log_prob = log_prob - torch.log(1 - action.pow(2) + 1e-6)
        return action, log_prob.sum(-1)

    def actor(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.forward("actor", obs, "body.").chunk(2, -1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        return mean, log_std

    def act(self, obs: torch.Tensor, explore: bool) -> torch.Tensor:
        obs = self.view(obs)
        if explore:
            return self.sample(obs)[0]
        return torch.tanh(self.actor(obs)[0])

    def q(self, name: str, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.forward(name, torch.cat([obs, action], -1)).squeeze(-1)

    def update(self, batch: dict[str, torch.Tensor]) -> list[dict[str, float]]:
        cfg, opt = self.config, self.optimizers
        obs, actions = self.view(batch["observations"]), batch["actions"]  # z detached
        alpha = self.log_alpha.exp().detach()[:, None]
        with torch.no_grad():
            next_obs = self.view(batch["next_observations"])
            next_actions, next_log_prob = self.sample(next_obs)
            next_q = torch.min(
                self.q("q1_target", next_obs, next_actions),
                self.q("q2_target", next_obs, next_actions),
            )
            not_done = 1.0 - batch["terminated"]
            discount = self.per_member("discount")[:, None]
            target = batch["rewards"] + discount * not_done * (next_q - alpha * next_log_prob)
        critic_obs = self.view(batch["observations"], train=True)  # learned: trains the encoder
        q1, q2 = self.q("q1", critic_obs, actions), self.q("q2", critic_obs, actions)
        q_loss = (q1 - target).pow(2).mean(-1) + (q2 - target).pow(2).mean(-1)
        self.step(opt["q"], q_loss)
        scalars = {"losses/q_loss": q_loss / 2, "losses/q_values": q1.detach().mean(-1)}

        self.updates += 1
        if self.updates % cfg.policy_frequency == 0:
            for _ in range(cfg.policy_frequency):
                new_actions, log_prob = self.sample(obs)
                q_new = torch.min(self.q("q1", obs, new_actions), self.q("q2", obs, new_actions))
                actor_loss = (alpha * log_prob - q_new).mean(-1)
                self.step(opt["actor"], actor_loss)
                if cfg.autotune:
                    entropy_gap = log_prob.detach() + self.target_entropy
                    self.step(opt["alpha"], (-self.log_alpha.exp()[:, None] * entropy_gap).mean(-1))
                    alpha = self.log_alpha.exp().detach()[:, None]
            scalars |= {"losses/actor_loss": actor_loss, "losses/alpha": alpha[:, 0]}
        self.soft_update()
        values = {key: value.detach().cpu().tolist() for key, value in scalars.items()}
        return [{key: v[m] for key, v in values.items()} for m in range(self.members)]

    def extra_state(self, member: int) -> dict:
        return {"log_alpha": self.log_alpha[member].detach().cpu().clone()}

    def load_extra(self, member: int, state: dict) -> None:
        with torch.no_grad():
            self.log_alpha[member] = state["log_alpha"]
