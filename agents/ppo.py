"""Proximal Policy Optimisation (Schulman et al. 2017) with GAE (Schulman et al. 2016), on a
family's batched environment, feed-forward: the CleanRL recipe (orthogonal init, advantage
normalisation, optional clipped value loss, learning-rate annealing, target-KL stop).

The agent is a population (agents/common/population.py): P members, each with its own
seed and values of the per-member fields, trained as one batched computation (a lone run
is a population of one). The steps after an episode end, which only reset an env, are
masked inside the minibatches rather than removed, so every member has the same number
of minibatches; each member shuffles with its own generator and stops its epochs at its
own target KL.

One file, read top to bottom: config, the clipped loss, then the agent (rollouts, update).
For PPO over whole meta-episodes (RL^2, SNAIL) see agents/common/meta_ppo.py.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from agents.common import stacked
from agents.common.actor_critic_loop import ActorCriticMembers, Stats, sample
from agents.common.cadence import Cadence, Ticks
from agents.common.population import PopulationReport
from agents.common.returns import rollout_gae
from envs.config import MAX_STEPS, Config, ConfigError, bounded


@dataclass
class PPOConfig(Config):
    learning_rate: float = bounded(2.5e-4, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size (annealed linearly to 0 when anneal_learning_rate)."""
    anneal_learning_rate: bool = True
    """Decay the learning rate linearly to zero over the step budget."""
    discount: float = bounded(0.99, 0.0, 1.0, per_member=True)
    """Discount factor gamma."""
    gae_lambda: float = bounded(0.95, 0.0, 1.0, per_member=True)
    """GAE lambda."""
    clip_range: float = bounded(0.2, 0.0, 1.0, low_open=True, per_member=True)
    """PPO's probability-ratio clip."""
    value_coef: float = bounded(0.5, 0.0, per_member=True)
    """Weight of the value loss."""
    clip_value_loss: bool = False
    """Clip each value's move to clip_range around its rollout value, as CleanRL's clip_vloss."""
    entropy_coef: float = bounded(0.01, 0.0, per_member=True)
    """Weight of the entropy bonus."""
    max_grad_norm: float = bounded(0.5, 0.0, low_open=True, per_member=True)
    """Gradient clipping threshold (global L2 norm)."""
    target_kl: float = bounded(0.0, 0.0, per_member=True)
    """Stop an update's epochs once the approximate KL passes this (0 never stops)."""
    ppo_epochs: int = bounded(4, 1, 100)
    """Passes over each rollout."""
    minibatch_size: int = bounded(128, 1, 1_000_000)
    """Transitions per minibatch."""
    num_envs: int = bounded(4, 1, 4096)
    """Environment copies stepped together."""
    rollout_steps: int = bounded(128, 1, 100_000)
    """Steps per environment between updates (batch = num_envs x rollout_steps)."""
    hidden_size: int = bounded(64, 1, 4096)
    """Units per hidden layer (two tanh layers, separate actor and critic)."""
    eval_interval: int = bounded(10_000, 1, MAX_STEPS)
    """Env steps between evaluations (one is always run at the end)."""
    eval_episodes: int = bounded(20, 1, 1000)
    """Greedy episodes per evaluation."""

    def check(self) -> None:
        if self.minibatch_size > self.num_envs * self.rollout_steps:
            raise ConfigError(
                f"minibatch_size={self.minibatch_size} exceeds the batch num_envs x "
                f"rollout_steps = {self.num_envs * self.rollout_steps}"
            )


def ppo_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    old_logp: torch.Tensor,
    old_values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_range: float | torch.Tensor,
    value_coef: float | torch.Tensor,
    entropy_coef: float | torch.Tensor,
    clip_value_loss: bool = False,
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Stats]:
    """The clipped PPO loss on one minibatch ``[..., B]`` (a member axis first, or none)
    and its parts, one per member; advantages are standardised per minibatch. Entries
    where ``valid`` is false count nowhere. With ``clip_value_loss`` the value loss is the
    larger of the plain squared error and that of the value moved at most ``clip_range``
    from ``old_values``. Per-member coefficients are ``[P]``."""
    weights = torch.ones_like(values) if valid is None else valid.to(values.dtype)
    count = weights.sum(-1).clamp(min=1.0)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return (x * weights).sum(-1) / count

    def per_row(coefficient: float | torch.Tensor) -> float | torch.Tensor:
        return coefficient.unsqueeze(-1) if isinstance(coefficient, torch.Tensor) else coefficient

    log_probs = torch.log_softmax(logits, -1)
    log_ratio = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1) - old_logp
    ratio = log_ratio.exp()
    centred = advantages - mean(advantages).unsqueeze(-1)
    spread = ((centred.square() * weights).sum(-1) / (count - 1).clamp(min=1.0)).sqrt()
    adv = centred / (spread.unsqueeze(-1) + 1e-8)
    clip = per_row(clip_range)
    clipped = ratio.clamp(1 - clip, 1 + clip)
    policy_loss = -mean(torch.min(ratio * adv, clipped * adv))
    if clip_value_loss:
        moved = old_values + (values - old_values).clamp(-clip, clip)
        value_loss = 0.5 * mean(torch.max((values - returns).pow(2), (moved - returns).pow(2)))
    else:
        value_loss = 0.5 * mean((values - returns).pow(2))
    entropy = mean(-(log_probs.exp() * log_probs).sum(-1))
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    with torch.no_grad():
        stats = {
            "policy_loss": policy_loss.detach(),
            "value_loss": value_loss.detach(),
            "entropy": entropy.detach(),
            "approx_kl": mean((ratio - 1) - log_ratio),
            "clip_fraction": mean(((ratio - 1).abs() > clip).to(values.dtype)),
        }
    return loss, stats


def adam_step_of(
    optimizer: stacked.StackedAdam, grads: Sequence[torch.Tensor], active: torch.Tensor
) -> None:
    """An Adam step of the ``active`` members only: the others (stopped by their target KL)
    keep their parameters, moments and step counts."""
    if bool(active.all()):
        optimizer.step(grads)
        return
    tensors = [*optimizer.params, *optimizer.exp_avg, *optimizer.exp_avg_sq, optimizer.steps]
    saved = [tensor.detach().clone() for tensor in tensors]
    optimizer.step(grads)
    with torch.no_grad():
        for tensor, before in zip(tensors, saved, strict=True):
            keep = active.to(tensor.device).reshape(-1, *([1] * (tensor.dim() - 1)))
            tensor.copy_(torch.where(keep, tensor, before))


class PPO(ActorCriticMembers):
    """Feed-forward PPO on a family with discrete actions, for P members at once."""

    config: PPOConfig

    def make_optimizer(self) -> stacked.StackedAdam:
        lr = self.member_values("learning_rate", torch.float64)
        return stacked.StackedAdam(list(self.params.values()), lr, eps=1e-5)

    def act(self, obs: torch.Tensor, t: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits, values = self.forward(obs)
        action = sample(logits, self.uniforms[t])
        logp = torch.log_softmax(logits, -1).gather(-1, action.unsqueeze(-1)).squeeze(-1)
        return action, {"logp": logp, "values": values}

    def learn(
        self, total_steps: int, *, tick_seconds: float | None = None
    ) -> Iterator[PopulationReport]:
        cfg = self.config
        cadence = Cadence(total_steps, cfg.eval_interval)  # a report per update
        ticks = Ticks(tick_seconds)
        self.reset_envs()
        learning_rates = self.member_values("learning_rate", torch.float64)
        while self.steps_done < total_steps:
            before = self.steps_done
            if cfg.anneal_learning_rate:
                remaining = max(0.0, 1.0 - self.steps_done / total_steps)
                self.optimizer.lr = learning_rates * remaining
            self.draw_uniforms(cfg.rollout_steps)
            batch = self.rollouts.collect(cfg.rollout_steps, self.act)
            self.steps_done += cfg.rollout_steps * cfg.num_envs
            data = batch.data
            with torch.no_grad():
                _, last_value = self.forward(batch.last_obs)
            advantages, returns = rollout_gae(
                data,
                data["values"],
                last_value,
                self.member_values("discount")[:, None],
                self.member_values("gae_lambda")[:, None],
            )
            stats = yield from self.update(data, advantages, returns, ticks)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = batch.finished_sums / batch.finished_counts  # NaN: none finished
            stats["charts/episode_return"] = torch.as_tensor(means)
            due = cadence.due(before, self.steps_done)
            results = self.evaluate(cfg.eval_episodes) if due.evaluate else None
            if due.report:
                yield self.reports(self.steps_done, stats, results)

    def update(
        self, data, advantages, returns, ticks: Ticks
    ) -> Generator[PopulationReport, None, Stats]:
        """PPO epochs over one rollout in shuffled minibatches, each member in its own
        order; yields the ticks that fall due between minibatches and returns the
        update's scalars (each member's means over the minibatches it trained on)."""
        cfg = self.config
        members = len(self.seeds)

        def flat(value: torch.Tensor) -> torch.Tensor:  # [T, P, n, ...] -> [P, T * n, ...]
            return value.transpose(0, 1).reshape(members, -1, *value.shape[3:])

        rows = {key: flat(data[key]) for key in ("obs", "actions", "logp", "values", "valid")}
        rows["advantages"], rows["returns"] = flat(advantages), flat(returns)
        size = rows["returns"].shape[1]
        coefficients = {
            name: self.member_values(name) for name in ("clip_range", "value_coef", "entropy_coef")
        }
        max_grad_norm, target_kl = (self.member_values(n) for n in ("max_grad_norm", "target_kl"))
        params = list(self.params.values())
        active = torch.ones(members, dtype=torch.bool, device=self.device)
        sums: Stats = {}
        trained = torch.zeros(members, device=self.device)
        per_epoch = -(-size // cfg.minibatch_size)
        for _ in range(cfg.ppo_epochs):
            orders = np.stack([rng.permutation(size) for rng in self.rngs])
            orders = torch.as_tensor(orders, device=self.device)
            epoch_kl = torch.zeros(members, device=self.device)
            for start in range(0, size, cfg.minibatch_size):
                idx = orders[:, start : start + cfg.minibatch_size]
                batch = {key: gather(value, idx) for key, value in rows.items()}
                logits, values = self.forward(batch["obs"])
                loss, parts = ppo_loss(
                    logits,
                    values,
                    batch["actions"],
                    batch["logp"],
                    batch["values"],
                    batch["advantages"],
                    batch["returns"],
                    **coefficients,
                    clip_value_loss=cfg.clip_value_loss,
                    valid=batch["valid"],
                )
                grads = torch.autograd.grad(loss.sum(), params)
                stacked.clip_grad_norm(grads, max_grad_norm)
                adam_step_of(self.optimizer, grads, active)
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0.0) + value * active
                trained += active
                epoch_kl += parts["approx_kl"]
                if ticks.due():
                    yield PopulationReport(self.steps_done, [{} for _ in range(members)], True)
            # The epoch's own minibatches decide whether the member's next epoch runs.
            active &= ~((target_kl > 0) & (epoch_kl / per_epoch > target_kl))
            if not bool(active.any()):
                break
        return {f"train/{key}": value / trained for key, value in sums.items()}


def gather(rows: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows ``idx`` ``[P, b]`` of each member's ``[P, N, ...]`` rows: one batched gather."""
    index = idx.reshape(*idx.shape, *([1] * (rows.dim() - 2))).expand(-1, -1, *rows.shape[2:])
    return rows.gather(1, index)
