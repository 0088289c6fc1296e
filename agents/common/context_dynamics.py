"""The dynamics models of the predictive and probing context modes and EPI's probing
policy: their networks, losses and optimiser, for P members (agents/common/context_modes.py
says what each mode does; ``ContextInputs`` takes these methods)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.common import stacked
from agents.common.networks import mlp

PROBE_STD = 0.5
"""Standard deviation of a continuous probing policy's Gaussian (before its tanh)."""


class DynamicsModels(nn.Module):
    """The decoder of s' - s from (s, a, z); with ``probe_steps``, also the decoder
    without z (EPI's baseline) and the probing policy pi(a | s, step)."""

    def __init__(self, obs: int, actions: int, size: int, hidden: int, probe_steps: int) -> None:
        super().__init__()
        self.decoder = mlp(obs + actions + size, obs, hidden, 2)
        if probe_steps:
            self.plain = mlp(obs + actions, obs, hidden, 2)
            self.probe = mlp(obs + probe_steps, actions, hidden, 2)


class ContextDynamics:
    """The probing policy and the dynamics models' training of a ``ContextInputs`` (which
    sets ``config``, ``obs``, ``actions``, ``discrete``, ``probe_steps``, ``models`` and
    ``models_template``, ``device``, and reads windows with its ``window`` and ``embed``)."""

    config: Any
    evaluation_rngs: list[np.random.Generator] | None = None
    """One generator per member while an evaluation samples the probes (``evaluating``)."""
    obs: int
    actions: int
    discrete: bool
    probe_steps: int
    device: torch.device
    models: stacked.Params
    models_template: Any

    # --- the probing policy -----------------------------------------------------------------
    def probe_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The probing policy's logits at augmented observations ``[P, N, width]`` and
        which of them are in the probe ``[P, N]`` (fewer than ``probe_steps`` slots
        filled)."""
        filled = self.window(x)[..., : self.probe_steps, -1].sum(-1)
        step = nn.functional.one_hot(
            filled.long().clamp(max=self.probe_steps - 1), self.probe_steps
        )
        inputs = torch.cat([x[..., : self.obs], step.to(x.dtype)], dim=-1)
        logits = stacked.sequential(self.models_template.probe, self.models, inputs, "probe.")
        return logits, filled < self.probe_steps

    @torch.no_grad()
    def probe_actions(
        self, observations: np.ndarray, actions: np.ndarray, draws: np.ndarray | None
    ) -> np.ndarray:
        """``actions`` ``[P * n, ...]`` with the probe's rows replaced by the probing
        policy's: sampled with ``draws`` (a uniform per row; continuous actions: standard
        normals ``[rows, size]``), else from ``evaluation_rngs`` when an evaluation set
        them, else its most likely action. A probe is stochastic by design (EPI's): its
        most likely actions repeated for every step can topple a pole it meant to probe."""
        if not self.probe_steps:
            return actions
        members = len(next(iter(self.models.values())))
        if draws is None and self.evaluation_rngs is not None:  # each member's own
            rows = len(observations) // members
            shape = (rows,) if self.discrete else (rows, self.actions)
            draws = np.concatenate(
                [rng.random(shape) if self.discrete else rng.standard_normal(shape)
                 for rng in self.evaluation_rngs]
            )  # fmt: skip
        x = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        logits, probing = self.probe_logits(x.reshape(members, -1, x.shape[-1]))
        probing = probing.reshape(-1).cpu().numpy()
        if not probing.any():
            return actions
        logits = logits.reshape(-1, self.actions)
        if not self.discrete:  # tanh of a Gaussian around the output, as SAC's actor
            u = logits if draws is None else logits + PROBE_STD * torch.as_tensor(draws)
            chosen = torch.tanh(u).cpu().numpy().astype(np.float32)
            rows = actions.reshape(len(chosen), -1)
            return np.where(probing[:, None], chosen, rows).reshape(actions.shape)
        if draws is None:
            chosen = logits.argmax(-1).cpu().numpy()
        else:
            cumulative = torch.softmax(logits.double(), -1).cumsum(-1).cpu().numpy()
            chosen = (draws[:, None] > cumulative[:, :-1]).sum(-1)
        return np.where(probing, chosen, actions)

    @contextmanager
    def evaluating(self, seeds: Sequence[int]) -> Iterator[None]:
        """Probes sampled from generators seeded with ``seeds`` (one per member) inside."""
        self.evaluation_rngs = [np.random.default_rng(seed) for seed in seeds]
        try:
            yield
        finally:
            self.evaluation_rngs = None

    # --- the dynamics models' training ---------------------------------------------------
    def attach(self, params: stacked.Params) -> None:
        """Give the dynamics models' optimiser the encoder of the agent's ``params`` (the
        dynamics loss trains it with them)."""
        self.logs: list[dict[str, torch.Tensor]] = []
        if not self.models:
            return
        encoder = [value for name, value in params.items() if name.startswith("encoder.")]
        self.trained = encoder + list(self.models.values())
        members = len(encoder[0])
        self.optimizer = stacked.StackedAdam(
            self.trained, [self.config.dynamics_learning_rate] * members
        )

    def dynamics_step(
        self, template: Any, params: stacked.Params, x: torch.Tensor, max_grad_norm: torch.Tensor
    ) -> None:
        """One Adam step of the dynamics loss on augmented observations ``[P, B, width]``."""
        loss, logs = self.dynamics_loss(template, params, x)
        grads = torch.autograd.grad(loss.sum(), self.trained)
        stacked.clip_grad_norm(grads, max_grad_norm)
        self.optimizer.step(grads)
        self.logs.append(logs)

    def scalars(self, members: int) -> list[dict[str, float]]:
        """The dynamics losses' means since the last call, one dict per member."""
        if not self.logs:
            return [{} for _ in range(members)]
        means = {key: torch.stack([log[key] for log in self.logs]).mean(0) for key in self.logs[0]}
        self.logs = []
        return [{key: float(value[m]) for key, value in means.items()} for m in range(members)]

    def member_state(self, member: int) -> dict[str, Any]:
        if not self.models:
            return {}
        return {
            "context_models": stacked.member_state(self.models, member),
            "context_optimizer": self.optimizer.member_state(member),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        if self.models:
            stacked.load_member_state(self.models, member, state["context_models"])
            self.optimizer.load_member_state(member, state["context_optimizer"])

    # --- the dynamics loss ------------------------------------------------------------------
    def dynamics_loss(
        self, template: Any, params: stacked.Params, x: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Each member's loss ``[P]`` on a minibatch of augmented observations ``[P, B,
        width]``: the decoder's squared error on the target transition (the window's newest;
        probing: the one after the probe), and for probing the baseline decoder's error and
        the probing policy's REINFORCE loss; with the mean errors for the logs."""
        slots = self.window(x)
        target, context = slots[..., -1, :], slots[..., :-1, :]
        usable = target[..., -1] * context[..., -1, -1]  # a target and a slot before it
        z = self.embed(template, params, context)
        o, a = self.obs, self.actions
        state, action = target[..., :o], target[..., o : o + a]
        change = target[..., o + a + 1 : 2 * o + a + 1] - state
        prediction = stacked.sequential(
            self.models_template.decoder, self.models, torch.cat([state, action, z], -1), "decoder."
        )
        count = usable.sum(-1).clamp(min=1.0)
        # Errors in units of each coordinate's root mean square change in the minibatch, so
        # that a state variable which moves little per step (cartpole's) counts as much.
        scale = ((change.square() * usable.unsqueeze(-1)).sum(-2) / count.unsqueeze(-1)).sqrt()
        unit = (scale.unsqueeze(-2) + 1e-6).detach()
        change, prediction = change / unit, prediction / unit
        error = (prediction - change).square().mean(-1)  # [P, B]
        loss = (error * usable).sum(-1) / count
        logs = {"context/dynamics_error": loss.detach()}
        if self.probe_steps:
            plain = stacked.sequential(
                self.models_template.plain, self.models, torch.cat([state, action], -1), "plain."
            )
            plain_error = (plain / unit - change).square().mean(-1)
            loss = loss + (plain_error * usable).sum(-1) / count
            gain = (plain_error - error).detach()  # EPI's reward: what z explains
            advantage = (gain - ((gain * usable).sum(-1) / count).unsqueeze(-1)) * usable
            log_prob, entropy = self.probe_log_prob(context)
            reinforce = -(advantage * log_prob).sum(-1) / count
            loss = loss + reinforce - self.config.probe_entropy * (entropy * usable).sum(-1) / count
            logs["context/plain_error"] = ((plain_error * usable).sum(-1) / count).detach()
            logs["context/probe_gain"] = ((gain * usable).sum(-1) / count).detach()
        return loss, logs

    def probe_log_prob(self, probe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum over a probe's filled slots ``[P, B, probe_steps, transition]`` of log
        pi(a | s, step), and the mean entropy of the policy there, each ``[P, B]``."""
        o, a, steps = self.obs, self.actions, self.probe_steps
        step = torch.eye(steps, dtype=probe.dtype, device=probe.device).expand(
            *probe.shape[:-2], steps, steps
        )
        inputs = torch.cat([probe[..., :o], step], -1)
        logits = stacked.sequential(self.models_template.probe, self.models, inputs, "probe.")
        valid = probe[..., -1]
        if not self.discrete:  # a = tanh(u), u ~ N(output, PROBE_STD): a fixed entropy
            taken = probe[..., o : o + a].clamp(-0.999, 0.999)
            normal = torch.distributions.Normal(logits, PROBE_STD)
            log_pi = normal.log_prob(torch.atanh(taken)) - torch.log(1 - taken.square())
            return (log_pi.sum(-1) * valid).sum(-1), torch.zeros_like(valid[..., 0])
        log_pi = torch.log_softmax(logits, -1)
        taken = (log_pi * probe[..., o : o + a]).sum(-1)
        entropy = -(log_pi.exp() * log_pi).sum(-1)
        filled = valid.sum(-1).clamp(min=1.0)
        return (taken * valid).sum(-1), (entropy * valid).sum(-1) / filled
