"""A discount learned online by meta-gradients with a control meta-objective, shared by
meta-dqn (agents/meta_dqn.py) and sf-gpi's ``learn_discount`` (agents/sf_gpi.py).

The inner step is the agent's own TD step under gamma = sigmoid(eta), its gradient g built
with create_graph (``differentiable_step``). After the optimiser's step, J' is the
policy-gradient loss (agents/common/episodes.py) of the softmax of the updated values,
standardised over the actions, on transitions of the member's recent complete episodes,
with advantages their returns-to-go less a learned baseline; eta moves along
-alpha * dJ'/dtheta' . dg/deta (agents/common/meta_gradient.py, ``take_meta_step``).

meta-dqn's values are its Q-network's; sf-gpi's are the GPI policy's under the base task
each episode acted for. Such a per-transition task travels as a ``tag`` concatenated to
the observation (``RecentEpisodes`` keeps observations only) and is split off when
sampled; the baseline sees both, as a return-to-go depends on the task as much as on the
state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from agents.common import stacked
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

if TYPE_CHECKING:
    from agents.common.q_learning import QLearner

Values = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
"""Values ``[P, batch, actions]`` of observations ``[P, batch, obs]`` (and their tags
``[P, batch, tag]``, or None without tags) at the updated parameters, with their
gradient."""


class Stepper(Protocol):
    """What ``differentiable_step`` needs of a learner (agents/common/q_learning.py)."""

    q_params: stacked.Params

    def gradient_step(
        self, loss: torch.Tensor, grads: Sequence[torch.Tensor] | None = None
    ) -> Any: ...


def differentiable_step(
    learner: Stepper, loss_under: Callable[[stacked.Params], tuple[torch.Tensor, Any]]
) -> tuple[torch.Tensor, Any, tuple[torch.Tensor, ...]]:
    """The learner's optimiser step on ``loss_under(params)`` (each member's loss ``[P]``
    and anything else it returns), with the inner gradient g kept differentiable
    (create_graph) at a copy of the parameters before the step. Returns (loss, the rest, g)."""
    before = {name: p.detach().clone().requires_grad_() for name, p in learner.q_params.items()}
    loss, rest = loss_under(before)
    g = torch.autograd.grad(loss.sum(), list(before.values()), create_graph=True)
    learner.gradient_step(loss.detach(), [grad.detach().clone() for grad in g])
    return loss, rest, g


def take_meta_step(
    discount: StackedDiscount,
    stats: MetaStats,
    outer: torch.Tensor,
    active: torch.Tensor | None,
    inner_grads: Sequence[torch.Tensor],
    parameters: Sequence[torch.Tensor],
    learning_rates: Sequence[float],
) -> None:
    """eta's step along the meta-gradient of J' (``outer`` ``[P]``, measured at the updated
    ``parameters``) for the ``active`` members ``[P]`` (None: all); none if none is."""
    if active is not None and not bool(active.any()):
        return
    v = torch.autograd.grad(outer.sum(), list(parameters))
    rates = torch.as_tensor(learning_rates, device=discount.eta.device)
    mask = None if active is None or bool(active.all()) else active
    gradient = discount.meta_step(inner_grads, v, rates, mask)
    stats.record("meta/gradient", gradient, active)
    stats.record("meta/objective", outer.detach(), active)


class ControlDiscount:
    """The control meta-objective of each member's learned ``discount``: its recent
    episodes (optionally tagged), the returns' baseline and its own episode generators."""

    def __init__(
        self,
        discount: StackedDiscount,
        observation_size: int,
        seeds: Sequence[int],
        temperatures: Sequence[float],
        return_discounts: Sequence[float],
        num_envs: int,
        capacity: int,
        hidden_size: int,
        device: torch.device,
        tag_size: int = 0,
        episodes_key: str = "episodes",
    ) -> None:
        """``return_discounts``: each member's discount of the returns-to-go (1:
        undiscounted); ``capacity``: complete-episode transitions a member keeps;
        ``hidden_size``: the baseline's; ``episodes_key``: the episodes' key in a
        checkpoint (sf-gpi's own ``episodes`` are its base tasks' round-robin)."""
        self.discount, self.observation_size, self.device = discount, observation_size, device
        self.temperatures = torch.as_tensor(
            np.asarray(temperatures, dtype=np.float32), device=device
        )
        size = observation_size + tag_size
        self.episodes = RecentEpisodes(
            len(seeds), num_envs, size, capacity, list(return_discounts), device
        )
        # Their own generators: the replay's draws stay the agent's, whatever the meta steps.
        self.rngs = episode_rngs(seeds)
        self.baseline = ReturnBaseline(size, seeds, hidden_size, 1e-3, device)
        self.stats = MetaStats()
        self.tagged, self.episodes_key = tag_size > 0, episodes_key

    @classmethod
    def of(
        cls,
        learner: QLearner,
        discount: StackedDiscount,
        return_discounts: Sequence[float],
        tag_size: int = 0,
        episodes_key: str = "episodes",
    ) -> ControlDiscount:
        """The control objective of a Q-learner whose config has meta-dqn's fields
        (``temperature`` per member, ``meta_episode_capacity``, ``hidden_size``,
        ``num_envs``)."""
        cfg = learner.config
        return cls(
            discount,
            learner.observation_size,
            learner.seeds,
            learner.per_member("temperature"),
            return_discounts,
            cfg.num_envs,
            cfg.meta_episode_capacity,
            cfg.hidden_size,
            learner.device,
            tag_size,
            episodes_key,
        )

    def push(self, observations, actions, rewards, done, real, tags=None) -> None:
        """One env step of every copy ``[P * n, ...]``, with each copy's tag if tagged."""
        if self.tagged:
            flat = observations.reshape(len(observations), -1)
            observations = np.concatenate([flat, tags], axis=1).astype(np.float32)
        self.episodes.push(observations, actions, rewards, done, real)

    def objective(self, values: Values, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """J' ``[P]`` of the softmax of ``values`` on ``batch_size`` recent complete-episode
        transitions per member (the baseline then takes its own step), and which members
        have such episodes ``[P]``."""
        samples = self.episodes.sample(self.rngs, batch_size)
        active = samples.active
        if not bool(active.any()):
            return torch.zeros(len(active), device=self.device), active
        observations, tags = samples.observations, None
        if self.tagged:
            observations = samples.observations[..., : self.observation_size]
            tags = samples.observations[..., self.observation_size :]
        logits = standardised_logits(values(observations, tags), self.temperatures)
        with torch.no_grad():
            advantages = samples.returns - self.baseline.values(samples.observations)
        outer = policy_gradient_loss(logits, samples.actions, advantages)
        self.stats.record("meta/baseline_loss", self.baseline.fit(samples), active)
        return outer, active

    def meta_step(
        self,
        inner_grads: Sequence[torch.Tensor],
        parameters: Sequence[torch.Tensor],
        learning_rates: Sequence[float],
        values: Values,
        batch_size: int,
    ) -> None:
        """eta's step along the meta-gradient of J' of the policy whose values at the
        updated ``parameters`` are ``values``; members without a complete episode yet
        take none."""
        outer, active = self.objective(values, batch_size)
        take_meta_step(
            self.discount, self.stats, outer, active, inner_grads, parameters, learning_rates
        )

    def burst_scalars(self) -> list[dict[str, float]]:
        """Each member's discount and the burst's mean meta statistics."""
        return self.stats.burst_scalars(self.discount.values())

    def member_state(self, member: int) -> dict[str, Any]:
        """The episodes, baseline and generator (the discount is the agent's to save)."""
        return {
            self.episodes_key: self.episodes.member_state(member),
            "baseline": self.baseline.member_state(member),
            "episode_rng": numpy_rng_state(self.rngs[member]),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        self.episodes.load_member_state(member, state[self.episodes_key])
        self.baseline.load_member_state(member, state["baseline"])
        set_numpy_rng_state(self.rngs[member], state["episode_rng"])
