"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016) for continuous actions, as
CleanRL's ddpg_continuous_action writes it: a deterministic tanh actor explored with
Gaussian noise, one critic, target copies of both.

This file is DDPG's update rule; the loop, the replay and the checkpoints are
agents/common/off_policy.py's, which sac shares. Every member of a population (a lone run
is a population of one) does, each step after ``learning_starts``, on its own minibatch:

- critic: y = r + gamma * (1 - terminated) * Q'(s', mu'(s')); Q regresses to y (MSE);
- every ``policy_frequency`` steps: one actor step on -Q(s, mu(s)), then the targets
  move: theta' <- tau * theta + (1 - tau) * theta' (actor and critic).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.common import stacked
from agents.common.context_modes import ContextFields
from agents.common.off_policy import OffPolicyConfig, OffPolicyMembers, mlp
from envs.config import bounded


@dataclass
class DDPGConfig(ContextFields, OffPolicyConfig):
    """CleanRL's defaults, but for learning_starts (see OffPolicyConfig)."""

    learning_rate: float = bounded(3e-4, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size of the actor and of the critic."""
    exploration_noise: float = bounded(0.1, 0.0, per_member=True)
    """Standard deviation of the Gaussian noise on the actor's action (as a share of half
    the action range), clipped back into the range."""
    policy_frequency: int = bounded(2, 1, 1000)
    """Steps between actor and target updates (delayed, as TD3)."""


class DDPG(OffPolicyMembers):
    config: DDPGConfig
    TARGETS = ("actor", "critic")

    def build_networks(self) -> dict[str, nn.Module]:
        n, k, hidden = self.observation_size, self.action_size, self.config.hidden_size
        return {
            "actor": nn.Sequential(mlp(n, hidden, k), nn.Tanh()),
            "critic": mlp(n + k, hidden, 1),
        }

    def make_optimizers(self) -> dict[str, stacked.StackedAdam]:
        critic = [*self.params["critic"].values(), *self.encoder_parameters()]
        return {
            "actor": self.adam(list(self.params["actor"].values()), "learning_rate"),
            "critic": self.adam(critic, "learning_rate"),
        }

    def mu(self, name: str, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic actor (or its target) ``[P, B, k]`` in (-1, 1)."""
        return torch.tanh(self.forward(name, obs, "0."))

    def act(self, obs: torch.Tensor, explore: bool) -> torch.Tensor:
        action = self.mu("actor", self.view(obs))
        if explore:
            noise = self.normal(action.shape[1:])
            action = (
                action + stacked.member_view(self.per_member("exploration_noise"), noise) * noise
            )
        return action.clamp(-1.0, 1.0)

    def q(self, name: str, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.forward(name, torch.cat([obs, action], -1)).squeeze(-1)

    def update(self, batch: dict[str, torch.Tensor]) -> list[dict[str, float]]:
        cfg = self.config
        obs = self.view(batch["observations"])  # with an embedding: the actor's, detached
        with torch.no_grad():
            next_obs = self.view(batch["next_observations"])
            next_q = self.q("critic_target", next_obs, self.mu("actor_target", next_obs))
            not_done = 1.0 - batch["terminated"]
            discount = self.per_member("discount")[:, None]
            target = batch["rewards"] + discount * not_done * next_q
        q = self.q("critic", self.view(batch["observations"], train=True), batch["actions"])
        q_loss = (q - target).pow(2).mean(-1)
        self.step(self.optimizers["critic"], q_loss)
        scalars = {"losses/q_loss": q_loss, "losses/q_values": q.detach().mean(-1)}

        self.updates += 1
        if self.updates % cfg.policy_frequency == 0:
            actor_loss = -self.q("critic", obs, self.mu("actor", obs)).mean(-1)
            self.step(self.optimizers["actor"], actor_loss)
            self.soft_update()
            scalars["losses/actor_loss"] = actor_loss
        values = {key: value.detach().cpu().tolist() for key, value in scalars.items()}
        return [{key: v[m] for key, v in values.items()} for m in range(self.members)]
