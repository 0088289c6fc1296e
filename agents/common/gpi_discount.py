"""A discount learned online by meta-gradients for successor features acting by GPI
(agents/sf_gpi.py with ``learn_discount``): meta-dqn's control objective
(agents/meta_dqn.py) with the policy that sf-gpi acts by.

The successor features' TD step under gamma = sigmoid(eta) gives the inner gradient g
(built with create_graph); after the optimiser's step, J' is the policy-gradient loss
(agents/common/episodes.py) of the GPI policy softmax(standardised max_i psi_i(s, .) . w
/ temperature) on transitions of the member's recent complete pre-training episodes, w
being the base task that episode acted for, with advantages the undiscounted
returns-to-go of that task's reward w . phi less a learned baseline; eta moves along
-alpha * dJ'/dtheta' . dg/deta (agents/common/meta_gradient.py).

``RecentEpisodes`` keeps observations only, so each transition's w travels with its
observation, concatenated, and is split off when sampled; the baseline sees both (a
return-to-go depends on the task as much as on the state).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state
from agents.common.episodes import (
    MetaStats,
    RecentEpisodes,
    ReturnBaseline,
    episode_rngs,
    policy_gradient_loss,
    standardised_logits,
)
from agents.common.meta_gradient import StackedDiscount

GPIValues = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""Q^GPI ``[P, batch, actions]`` of observations ``[P, batch, obs]`` under tasks
``[P, batch, d]``, at the updated parameters (with their gradient)."""


class GPIDiscount:
    """Each member's learned discount (``StackedDiscount``), its recent episodes tagged
    with their base task, the returns' baseline and the members' episode generators."""

    def __init__(
        self,
        observation_size: int,
        cumulants: int,
        seeds: Sequence[int],
        settings: dict[str, Sequence[float]],
        config: Any,
        device: torch.device,
    ) -> None:
        """``settings``: each member's ``discount`` (initial), ``meta_learning_rate`` and
        ``temperature``; ``config``: the shared fields ``num_envs``, ``hidden_size`` (the
        baseline's) and ``meta_episode_capacity``."""
        members = len(seeds)
        self.observation_size, self.device = observation_size, device
        self.discount = StackedDiscount(
            settings["discount"], settings["meta_learning_rate"], device
        )
        self.temperatures = torch.as_tensor(
            np.asarray(settings["temperature"], dtype=np.float32), device=device
        )
        size = observation_size + cumulants
        self.episodes = RecentEpisodes(
            members, config.num_envs, size, config.meta_episode_capacity, [1.0] * members, device
        )
        self.rngs = episode_rngs(seeds)
        self.baseline = ReturnBaseline(size, seeds, config.hidden_size, 1e-3, device)
        self.stats = MetaStats()

    def push(self, observations, weights, actions, rewards, done, real) -> None:
        """One env step of every copy ``[P * n, ...]``, each acting for its task w."""
        flat = observations.reshape(len(observations), -1)
        tagged = np.concatenate([flat, weights], axis=1).astype(np.float32)
        self.episodes.push(tagged, actions, rewards, done, real)

    def meta_step(
        self,
        inner_grads: Sequence[torch.Tensor],
        parameters: Sequence[torch.Tensor],
        learning_rates: Sequence[float],
        values: GPIValues,
        batch_size: int,
    ) -> None:
        """eta's step along the meta-gradient of J' of the GPI policy whose values at the
        updated ``parameters`` are ``values``; members without a complete episode yet
        take none."""
        samples = self.episodes.sample(self.rngs, batch_size)
        active = samples.active
        if not bool(active.any()):
            return
        observations = samples.observations[..., : self.observation_size]
        weights = samples.observations[..., self.observation_size :]
        q_values = values(observations, weights)
        logits = standardised_logits(q_values, self.temperatures)
        with torch.no_grad():
            advantages = samples.returns - self.baseline.values(samples.observations)
        outer = policy_gradient_loss(logits, samples.actions, advantages)
        self.stats.record("meta/baseline_loss", self.baseline.fit(samples), active)
        v = torch.autograd.grad(outer.sum(), list(parameters))
        rates = torch.as_tensor(learning_rates, device=self.device)
        mask = None if bool(active.all()) else active
        gradient = self.discount.meta_step(inner_grads, v, rates, mask)
        self.stats.record("meta/gradient", gradient, active)
        self.stats.record("meta/objective", outer.detach(), active)

    def burst_scalars(self) -> list[dict[str, float]]:
        """Each member's discount and the burst's mean meta statistics."""
        return self.stats.burst_scalars(self.discount.values())

    def member_state(self, member: int) -> dict[str, Any]:
        return {
            "discount": self.discount.member_state(member),
            "meta_episodes": self.episodes.member_state(member),
            "baseline": self.baseline.member_state(member),
            "episode_rng": numpy_rng_state(self.rngs[member]),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        self.discount.load_member_state(member, state["discount"])
        self.episodes.load_member_state(member, state["meta_episodes"])
        self.baseline.load_member_state(member, state["baseline"])
        set_numpy_rng_state(self.rngs[member], state["episode_rng"])
