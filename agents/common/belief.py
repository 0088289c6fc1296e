"""VariBAD's belief model (Zintgraf et al. 2020): a recurrent encoder that turns the
meta-episode so far into a Gaussian posterior over a task latent, decoders that predict
rewards (and optionally next states) from a latent sample, and the ELBO that trains them.

The encoder reads the same per-step inputs as RL^2's policy (envs/meta.py: the
observation s_t, the previous action, the reward it earned, the trial-done flag and the
time), so after step t it has seen the transitions (s, a, r, s') up to s_t. The reward
decoder gives p(r | s', a, m) for a latent sample m, by one output per state or per
action from m alone (``RewardDecoder``'s heads) or by an MLP of (s', a, m); the
transition decoder p(s' | s, a, m). The ELBO is, for every posterior
q_t of a meta-episode, the log-likelihood of all of its transitions, past and future,
under a sample of q_t, minus KL(q_t || q_{t-1}) (the paper's choice; q_{-1} = N(0, I)).

Rewards whose family bounds them (bandits, the gridworld) are scaled to [0, 1] and
decoded as a Bernoulli, as VariBAD's code does for its gridworld; unbounded rewards
(tabular MDPs) as a Gaussian of unit variance (a squared error).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from agents.common import networks


class Posterior(NamedTuple):
    mean: torch.Tensor
    logvar: torch.Tensor

    def sample(self) -> torch.Tensor:
        return self.mean + torch.randn_like(self.mean) * (0.5 * self.logvar).exp()


class Transitions(NamedTuple):
    """A batch of meta-episodes' transitions, each (T, B, ...)."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    arrived: torch.Tensor


class BeliefEncoder(nn.Module):
    """Embedding, GRU and Gaussian heads: inputs (T, B, D) -> the posterior after each."""

    def __init__(self, inputs: int, embedding: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(inputs, embedding), nn.ReLU())
        self.gru = nn.GRU(embedding, hidden)
        self.mean = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)

    def forward(
        self, inputs: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[Posterior, torch.Tensor]:
        features, state = self.gru(self.embed(inputs), state)
        return Posterior(self.mean(features), self.logvar(features)), state


REWARD_HEADS = ("goal", "state", "action", "none")


class RewardDecoder(nn.Module):
    """Logit (bounded rewards) or mean (unbounded) of the reward for (s', a, m).

    ``heads`` says what the decoder reads besides m: ``state``, one output per state from m
    alone, read at the arrival state's one-hot (VariBAD's gridworld decoder, its
    ``multihead_for_reward``: the goal's place is all the task is); ``goal``, the same
    outputs as a softmax over the states, the probability that each is the one goal (its
    ``rew_pred_type=categorical``), returned as the logit of the arrival state's
    probability so that the Bernoulli likelihood reads it like the others; ``action``, one
    output per action from m alone (bandits: each arm's mean); ``none``, an MLP of
    (s', a, m).
    """

    def __init__(
        self, state_size: int, actions: int, latent: int, hidden: int, heads: str = "none"
    ) -> None:
        super().__init__()
        self.actions, self.heads = actions, heads
        if heads in ("state", "goal"):
            self.net = networks.mlp(latent, state_size, hidden, 2)
        elif heads == "action":
            self.net = networks.mlp(latent, actions, hidden, 2)
        else:
            self.net = networks.mlp(state_size + actions + latent, 1, hidden, 2)

    def forward(self, arrived: torch.Tensor, actions: torch.Tensor, latent: torch.Tensor):
        """Leading dimensions broadcast, so one latent per posterior can decode every
        transition without being copied T times."""
        one_hot = F.one_hot(actions, self.actions).to(latent.dtype)
        if self.heads == "state":
            return (self.net(latent) * arrived).sum(-1)
        if self.heads == "goal":
            log_p = (F.log_softmax(self.net(latent), -1) * arrived).sum(-1)
            return log_p - torch.log1p(-log_p.exp().clamp(max=1 - 1e-6))
        if self.heads == "action":
            return (self.net(latent) * one_hot).sum(-1)
        shape = torch.broadcast_shapes(arrived.shape[:-1], one_hot.shape[:-1], latent.shape[:-1])
        parts = [part.expand(*shape, part.shape[-1]) for part in (arrived, one_hot, latent)]
        return self.net(torch.cat(parts, -1)).squeeze(-1)


class TransitionDecoder(nn.Module):
    """Predicted next base observation for (s, a, m)."""

    def __init__(self, state_size: int, actions: int, latent: int, hidden: int) -> None:
        super().__init__()
        self.actions = actions
        self.net = networks.mlp(state_size + actions + latent, state_size, hidden, 2)

    def forward(self, states: torch.Tensor, actions: torch.Tensor, latent: torch.Tensor):
        one_hot = F.one_hot(actions, self.actions).to(latent.dtype)
        return self.net(torch.cat([states, one_hot, latent], -1))


def gaussian_kl(q: Posterior, p: Posterior) -> torch.Tensor:
    """KL(q || p) of diagonal Gaussians, summed over the latent dimensions."""
    log_ratio = q.logvar - p.logvar
    squared = (q.mean - p.mean).pow(2) / p.logvar.exp()
    return 0.5 * (log_ratio.exp() + squared - 1 - log_ratio).sum(-1)


def kl_to_previous(posterior: Posterior) -> torch.Tensor:
    """KL(q_t || q_{t-1}) for each step, (T, B), with N(0, I) before the first."""
    prior = Posterior(torch.zeros_like(posterior.mean[:1]), torch.zeros_like(posterior.logvar[:1]))
    previous = Posterior(
        torch.cat([prior.mean, posterior.mean[:-1]]),
        torch.cat([prior.logvar, posterior.logvar[:-1]]),
    )
    return gaussian_kl(posterior, previous)


class RewardBounds(NamedTuple):
    low: float
    high: float

    @property
    def bernoulli(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high) and self.high > self.low

    def scale(self, rewards: torch.Tensor) -> torch.Tensor:
        return (rewards - self.low) / (self.high - self.low)


def reward_nll(predicted: torch.Tensor, rewards: torch.Tensor, bounds: RewardBounds):
    """Negative log-likelihood of each reward (up to a constant for the Gaussian)."""
    if bounds.bernoulli:
        target = bounds.scale(rewards).clamp(0.0, 1.0)
        return F.binary_cross_entropy_with_logits(predicted, target, reduction="none")
    return 0.5 * (predicted - rewards).pow(2)


def elbo_terms(
    posterior: Posterior,
    batch: Transitions,
    reward_decoder: RewardDecoder,
    bounds: RewardBounds,
    transition_decoder: TransitionDecoder | None = None,
    decoded: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The negative ELBO's parts, each a scalar summed over the T ELBO terms (one per
    posterior) and averaged over the meta-episodes, as in VariBAD's code: ``reward``
    (each term summed over the T decoded transitions), ``transition`` likewise (zero
    without a transition decoder), and ``kl``. ``decoded`` picks the steps whose
    posteriors are decoded, scaled up to an unbiased estimate of the sum over all
    (None: every step)."""
    steps, tasks = batch.rewards.shape
    latent = posterior.sample()  # (T posteriors, B, L)
    if decoded is not None:
        latent = latent[decoded]
    decoding = latent.shape[0]
    # Each posterior decodes every transition: (posteriors, T transitions, B, ...).
    predicted = reward_decoder(batch.arrived[None], batch.actions[None], latent[:, None])
    rewards = batch.rewards[None].expand(decoding, steps, tasks)
    per_term = steps  # the mean over the decoded posteriors, scaled to the sum over T
    terms = {"reward": per_term * reward_nll(predicted, rewards, bounds).sum(1).mean()}
    if transition_decoder is not None:
        next_states = transition_decoder(
            batch.states[None].expand(decoding, *batch.states.shape),
            batch.actions[None].expand(decoding, *batch.actions.shape),
            latent[:, None].expand(decoding, steps, tasks, latent.shape[-1]),
        )
        error = 0.5 * (next_states - batch.arrived[None]).pow(2).sum(-1)
        terms["transition"] = per_term * error.sum(1).mean()
    else:
        terms["transition"] = torch.zeros((), device=latent.device)
    terms["kl"] = kl_to_previous(posterior).sum(0).mean()
    return terms
