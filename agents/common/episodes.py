"""The control meta-objective of the meta-gradient agents that learn from replay
(agents/common/control_discount.py, used by meta-dqn and sf-gpi's learned discount): how well
the updated policy does, measured on the members' most recent complete episodes, not how
well the updated values agree with a reference discount.

For a population of P members (a lone run is a population of one):

- ``RecentEpisodes`` keeps each member's latest complete episodes: every transition's
  observation, action and return-to-go under the member's reference discount gamma'
  (1: undiscounted, what the workbench reports as a run's return). An episode enters only
  once it has ended, so its returns-to-go are exact, and the oldest transitions leave
  first once ``capacity`` is full.
- ``ReturnBaseline`` is a learned baseline b(s) of those returns-to-go (an MLP per member,
  regressed on the same transitions), so the objective is a policy gradient with
  advantages G_t - b(s_t), as mg-a2c's meta-objective has (agents/mg_a2c.py).
- ``policy_gradient_loss`` is the loss J' = -mean_t log pi(a_t | s_t) (G_t - b(s_t)) of a
  policy given by its logits; the meta-gradient agents take pi as the softmax of the
  updated Q-values standardised over the actions, over a temperature
  (``standardised_logits``). ``MetaStats`` gathers a burst's meta statistics.

These episodes were acted by earlier versions of the policy (epsilon-greedy on older
Q-networks), so J' is an off-policy estimate: it raises the updated policy's probability
of the actions that were followed by better-than-baseline returns. The meta-gradient
only asks which discount makes the inner TD step do that more, so the bias matters less
than the scale: the returns are the real, undiscounted ones, never a discounted value
that moves with the learned discount.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from agents.common import stacked
from agents.common.networks import build_members, mlp

EPISODE_STREAM = 7
"""Second word of the seed of a member's generator of episode draws (``[seed,
EPISODE_STREAM]``): its own stream, so the replay's draws stay what they would be without
a learned discount."""


def episode_rngs(seeds: Sequence[int]) -> list[np.random.Generator]:
    """Each member's generator of episode draws."""
    return [np.random.default_rng([seed, EPISODE_STREAM]) for seed in seeds]


INITIAL_LENGTH = 64
"""Steps an open episode's arrays first hold; they double when an episode runs longer."""


class EpisodeSamples(NamedTuple):
    """Transitions of complete episodes, ``[P, batch, ...]``; ``active`` ``[P]`` marks the
    members that have any (the others' rows are zeros)."""

    observations: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor
    active: torch.Tensor


def returns_to_go(rewards: np.ndarray, discount: float) -> np.ndarray:
    """G_t = sum_k discount**(k - t) r_k of one episode's rewards."""
    if discount == 1.0:
        return np.cumsum(rewards[::-1])[::-1].copy()
    out = np.empty_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + discount * running
        out[t] = running
    return out


class RecentEpisodes:
    """Each member's ``capacity`` latest transitions of complete episodes.

    Open episodes grow in NumPy arrays ``[P * n, length, ...]`` (one row per env copy,
    member m's copies being rows m*n .. m*n + n - 1), written for all copies at once; an
    ended episode's returns-to-go are computed then and it is copied into its member's
    circular buffer of torch tensors ``[P, capacity, ...]``."""

    def __init__(
        self,
        members: int,
        envs_per_member: int,
        observation_size: int,
        capacity: int,
        discounts: Sequence[float],
        device: torch.device | str = "cpu",
    ) -> None:
        self.members, self.envs_per_member, self.capacity = members, envs_per_member, capacity
        self.observation_size = observation_size
        self.discounts = [float(d) for d in discounts]
        copies = members * envs_per_member
        self.open_observations = np.zeros((copies, INITIAL_LENGTH, observation_size), np.float32)
        self.open_actions = np.zeros((copies, INITIAL_LENGTH), np.int64)
        self.open_rewards = np.zeros((copies, INITIAL_LENGTH), np.float64)
        self.open_length = np.zeros(copies, np.int64)
        self.observations = torch.zeros(members, capacity, observation_size, device=device)
        self.actions = torch.zeros(members, capacity, dtype=torch.long, device=device)
        self.returns = torch.zeros(members, capacity, device=device)
        self.position = np.zeros(members, np.int64)
        self.count = np.zeros(members, np.int64)

    def clear_open(self) -> None:
        """Drop the episodes under way (the envs were reset: they will not end)."""
        self.open_length[:] = 0

    def push(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        done: np.ndarray,
        real: np.ndarray,
    ) -> None:
        """One env step of every copy ``[P * n, ...]``: the observation acted on, the
        action, its reward; ``done`` (terminated or truncated) closes an episode; rows
        not ``real`` (NEXT_STEP autoreset steps) are skipped."""
        rows = np.flatnonzero(real)
        if rows.size == 0:
            return
        steps = self.open_length[rows]
        if steps.max() >= self.open_actions.shape[1]:
            self._grow()
        self.open_observations[rows, steps] = observations[rows].reshape(rows.size, -1)
        self.open_actions[rows, steps] = actions[rows]
        self.open_rewards[rows, steps] = rewards[rows]
        self.open_length[rows] += 1
        for row in np.flatnonzero(done & real):
            self._close(int(row))

    def _grow(self) -> None:
        def doubled(array: np.ndarray) -> np.ndarray:
            grown = np.zeros((array.shape[0], 2 * array.shape[1], *array.shape[2:]), array.dtype)
            grown[:, : array.shape[1]] = array
            return grown

        self.open_observations = doubled(self.open_observations)
        self.open_actions = doubled(self.open_actions)
        self.open_rewards = doubled(self.open_rewards)

    def _close(self, row: int) -> None:
        member, length = row // self.envs_per_member, int(self.open_length[row])
        self.open_length[row] = 0
        returns = returns_to_go(self.open_rewards[row, :length], self.discounts[member])
        keep = min(length, self.capacity)  # an episode longer than the buffer: its end
        first = length - keep
        slots = torch.as_tensor((self.position[member] + np.arange(keep)) % self.capacity)
        device = self.observations.device
        self.observations[member, slots] = torch.as_tensor(
            self.open_observations[row, first:length], device=device
        )
        self.actions[member, slots] = torch.as_tensor(
            self.open_actions[row, first:length], device=device
        )
        self.returns[member, slots] = torch.as_tensor(
            returns[first:], dtype=torch.float32, device=device
        )
        self.position[member] = (self.position[member] + keep) % self.capacity
        self.count[member] = min(self.capacity, self.count[member] + keep)

    def sample(self, rngs: Sequence[np.random.Generator], batch_size: int) -> EpisodeSamples:
        """``batch_size`` transitions per member drawn uniformly (with replacement) from its
        buffer by its own generator; a member without a complete episode draws nothing."""
        index = np.zeros((self.members, batch_size), np.int64)
        for member, rng in enumerate(rngs):
            if self.count[member]:
                index[member] = rng.integers(self.count[member], size=batch_size)
        rows = torch.as_tensor(index, device=self.actions.device)
        return EpisodeSamples(
            self.observations.gather(1, rows.unsqueeze(-1).expand(-1, -1, self.observation_size)),
            self.actions.gather(1, rows),
            self.returns.gather(1, rows),
            torch.as_tensor(self.count > 0, device=self.actions.device),
        )

    def member_state(self, member: int) -> dict[str, Any]:
        """The member's complete episodes (open ones are not kept: a resumed run starts
        fresh episodes)."""
        count = int(self.count[member])
        # Oldest first, so loading writes them back in order.
        order = (self.position[member] - count + np.arange(count)) % self.capacity
        slots = torch.as_tensor(order)
        return {
            "observations": self.observations[member, slots].cpu().clone(),
            "actions": self.actions[member, slots].cpu().clone(),
            "returns": self.returns[member, slots].cpu().clone(),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        count = min(self.capacity, int(state["actions"].shape[0]))
        device = self.observations.device
        for name in ("observations", "actions", "returns"):
            getattr(self, name)[member, :count] = state[name][-count:].to(device)
        self.position[member] = count % self.capacity
        self.count[member] = count


class ReturnBaseline:
    """b(s): each member's MLP estimate of its returns-to-go, fitted by one Adam step on
    the squared error at every use (the baseline of ``policy_gradient_loss``)."""

    def __init__(
        self,
        observation_size: int,
        seeds: Sequence[int],
        hidden_size: int,
        learning_rate: float,
        device: torch.device | str = "cpu",
    ) -> None:
        networks = build_members(lambda: mlp(observation_size, 1, hidden_size, 2), seeds)
        self.template = networks[0]
        self.params = stacked.stack(networks, device)
        self.optimizer = stacked.StackedAdam(
            list(self.params.values()), [learning_rate] * len(seeds)
        )

    def values(self, observations: torch.Tensor) -> torch.Tensor:
        """b(s) ``[P, batch]`` of observations ``[P, batch, obs]``."""
        return stacked.sequential(self.template, self.params, observations).squeeze(-1)

    def fit(self, samples: EpisodeSamples) -> torch.Tensor:
        """One Adam step of the active members towards the samples' returns; returns the
        squared errors ``[P]`` before the step."""
        error = (self.values(samples.observations) - samples.returns).pow(2).mean(-1)
        grads = torch.autograd.grad(error.sum(), list(self.params.values()))
        self.optimizer.step(grads, samples.active)
        return error.detach()

    def member_state(self, member: int) -> dict[str, Any]:
        return {
            "network": stacked.member_state(self.params, member),
            "optimizer": self.optimizer.member_state(member),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        stacked.load_member_state(self.params, member, state["network"])
        self.optimizer.load_member_state(member, state["optimizer"])


def policy_gradient_loss(
    logits: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor
) -> torch.Tensor:
    """J' ``[P]`` = -mean over the batch of log pi(a | s) * advantage, with pi the softmax
    of ``logits`` ``[P, batch, actions]``; advantages ``[P, batch]`` carry no gradient."""
    log_probs = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    return -(log_probs * advantages.detach()).mean(-1)


def standardised_logits(q_values: torch.Tensor, temperatures: torch.Tensor) -> torch.Tensor:
    """The control objective's logits: Q ``[P, batch, actions]`` standardised over the
    actions (zero mean, unit spread in each state, so a larger scale of Q, which a larger
    discount brings, earns nothing), over each member's temperature ``[P]``."""
    centered = q_values - q_values.mean(-1, keepdim=True)
    # eps inside the root: its derivative at a state whose actions tie exactly is finite
    logits = centered / (centered.pow(2).mean(-1, keepdim=True) + 1e-8).sqrt()
    return logits / stacked.member_view(temperatures, logits)


class MetaStats:
    """A training burst's meta statistics ``[P]`` per key (NaN where a member took no meta
    step), reported as each member's mean beside its discount."""

    def __init__(self) -> None:
        self.values: dict[str, list[torch.Tensor]] = {}

    def record(self, key: str, values: torch.Tensor, active: torch.Tensor | None) -> None:
        values = values.detach()
        if active is not None:
            values = torch.where(active, values, torch.full_like(values, float("nan")))
        self.values.setdefault(key, []).append(values)

    def burst_scalars(self, discounts: Sequence[float]) -> list[dict[str, float]]:
        """``meta/discount`` and each statistic's mean over the burst, per member; clears."""
        scalars = [{"meta/discount": value} for value in discounts]
        for key, values in self.values.items():
            means = torch.stack(values).cpu().double().numpy()
            for member_scalars, column in zip(scalars, means.T, strict=True):
                seen = column[~np.isnan(column)]
                if seen.size:
                    member_scalars[key] = float(seen.mean())
        self.values.clear()
        return scalars
