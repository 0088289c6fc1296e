"""How a single-task agent sees the dynamics it acts in: the ``context`` modes of a
contextual family (envs/control.py), for a population of P members (a lone run is one).

- ``hidden``: the observation alone.
- ``explicit``: the true factors, normalised to [-1, 1] over the family's range, appended
  to the observation (the env's ``visible_context``).
- ``learned``: an encoder reads the last ``context_window`` transitions (s, a, r, s') of
  the current episode; the mean of its per-transition outputs is an embedding z the
  Q-network reads beside the observation, and the RL loss trains it end to end (the
  source project's "JRPL").
- ``predictive``: the same encoder, trained by a one-step dynamics loss (Evans et al.
  2022, "Context is Everything"): a decoder predicts s' - s of the newest transition of a
  window from (s, a) and the embedding of the others. Its data are the first
  ``predictive_steps`` env steps of the budget, played by a uniform random generator
  policy (they count as env steps and fill the replay); ``predictive_updates`` gradient
  steps of that loss follow, then the encoder is frozen (``predictive_finetune``: the RL
  loss fine-tunes it from there).
- ``probing``: EPI (Zhou et al. 2019). The first ``probe_steps`` steps of every episode
  are played by a separate probing policy pi(a | s, step) (they count as env steps and
  their rewards as the episode's); the embedding of the probe's transitions, frozen for
  the rest of the episode, is what the Q-network reads. The encoder is trained, as EPI's
  is, to make the dynamics predictable: a decoder predicts every later transition's
  s' - s from (s, a, z); the probing policy is trained by REINFORCE on EPI's reward, how
  much the embedding lowers that prediction error against a decoder without it.
  Here the probe opens the episode (one context per episode, resampled at reset) where
  EPI plays it as a separate short episode first.

The windows are part of the observation the agent stores and replays: ``TransitionWindows``
wraps a vector env and appends each env's window to its observation, so acting,
n-step folding, the replay and every evaluation see the same augmented observations and
the Q-network is a function of them alone. A window slot is one transition
``[s, action one-hot, r, s', 1]``, all zeros while unfilled (the last entry says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.common import stacked
from agents.common.networks import build_members, mlp
from agents.common.transition_windows import TransitionWindows
from envs.config import MAX_STEPS, Config, ConfigError, bounded

CONTEXT_MODES = ("hidden", "explicit", "learned", "predictive", "probing")
ENCODED = ("learned", "predictive", "probing")
"""The modes with an encoder of transitions."""


@dataclass
class ContextFields(Config):
    """The context fields of an agent that trains on contextual families."""

    context: str = "hidden"
    """What the agent sees of the dynamics: hidden, explicit (the true factors), learned
    (an encoder of recent transitions trained by the RL loss), predictive (that encoder
    trained by a one-step dynamics loss) or probing (EPI's probing policy and embedding)."""
    context_window: int = bounded(8, 2, 64)
    """learned, predictive: the last transitions of the episode the encoder reads."""
    context_size: int = bounded(8, 1, 256)
    """Size of the embedding the Q-network reads beside the observation."""
    encoder_hidden: int = bounded(64, 1, 4096)
    """Units of each of the two hidden layers of the encoder and the dynamics models."""
    predictive_steps: int = bounded(5000, 1, MAX_STEPS)
    """predictive: env steps of a uniform random policy, at the start of the budget, whose
    transitions pre-train the encoder (the agent's own learning starts after them)."""
    predictive_updates: int = bounded(2000, 1, 1_000_000)
    """predictive: gradient steps of the dynamics loss once those steps are played."""
    predictive_finetune: bool = False
    """predictive: the RL loss fine-tunes the pre-trained encoder (false: frozen)."""
    probe_steps: int = bounded(8, 1, 100)
    """probing: steps at the start of every episode played by the probing policy."""
    probe_entropy: float = bounded(0.01, 0.0, 10.0)
    """probing: entropy bonus of the probing policy's REINFORCE loss."""
    dynamics_learning_rate: float = bounded(1e-3, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the dynamics models, the encoder they train and the probing
    policy (predictive, probing)."""

    def check(self) -> None:
        super().check()
        if self.context not in CONTEXT_MODES:
            raise ConfigError(
                f"context={self.context!r} is not a mode; use one of {', '.join(CONTEXT_MODES)}",
                field="context",
            )


def check_context_task(config: Config, task_params: Config, steps: int) -> None:
    """Refuse, in one line, a context mode on a task without context factors, and a
    predictive pre-training longer than the budget."""
    from envs.splits import ContextParams

    mode = getattr(config, "context", "hidden")
    if mode == "hidden":
        return
    if not isinstance(task_params, ContextParams):
        raise ConfigError(
            f"context={mode} needs a task with context factors (cartpole, mountaincar, "
            "pendulum, lunarlander); this task has none, so use context=hidden",
            field="context",
        )
    if mode == "predictive" and config.predictive_steps >= steps:
        raise ConfigError(
            f"predictive_steps={config.predictive_steps} leaves nothing of the {steps}-step "
            "budget for the agent to learn with; give fewer predictive_steps or more --steps",
            field="predictive_steps",
        )


def context_task_params(config: Config, params: Config) -> Config:
    """The task parameters an agent's envs are built with: explicit shows the factors."""
    if getattr(config, "context", "hidden") == "explicit":
        return params.replace(visible_context=True)  # type: ignore[attr-defined]
    return params


class ContextNetwork(nn.Module):
    """A Q-network (or any head) reading the observation and an embedding of transitions."""

    def __init__(self, head: nn.Sequential, encoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head


class DynamicsModels(nn.Module):
    """The decoder of s' - s from (s, a, z); with ``probe_steps``, also the decoder
    without z (EPI's baseline) and the probing policy pi(a | s, step)."""

    def __init__(self, obs: int, actions: int, size: int, hidden: int, probe_steps: int) -> None:
        super().__init__()
        self.decoder = mlp(obs + actions + size, obs, hidden, 2)
        if probe_steps:
            self.plain = mlp(obs + actions, obs, hidden, 2)
            self.probe = mlp(obs + probe_steps, actions, hidden, 2)


class ContextInputs:
    """A context mode's view of the env and its networks, for P members.

    ``observation_size``/``num_actions`` are the env's own; the augmented observation is
    ``[s, slots * transition]``. Members' networks are stacked (agents/common/stacked.py);
    the dynamics models and their optimiser live here, the encoder in the agent's
    network parameters (under ``encoder.``, so target networks copy it)."""

    def __init__(
        self,
        config: Any,
        observation_size: int,
        num_actions: int,
        seeds: Sequence[int],
        device: torch.device,
    ) -> None:
        self.mode = getattr(config, "context", "hidden")
        self.config, self.device = config, device
        self.obs, self.actions = observation_size, num_actions
        self.transition = 2 * observation_size + num_actions + 2
        self.probe_steps = config.probe_steps if self.mode == "probing" else 0
        if self.mode in ("learned", "predictive"):
            self.slots = config.context_window
        else:
            self.slots = self.probe_steps + 1 if self.probe_steps else 0
        self.random_steps = config.predictive_steps if self.mode == "predictive" else 0
        self.rl_trains_encoder = self.mode == "learned" or (
            self.mode == "predictive" and config.predictive_finetune
        )
        self.models: stacked.Params = {}
        if self.mode in ("predictive", "probing"):
            build = lambda: DynamicsModels(  # noqa: E731
                observation_size,
                num_actions,
                config.context_size,
                config.encoder_hidden,
                self.probe_steps,
            )
            modules = build_members(build, [seed + 7919 for seed in seeds])
            self.models_template = modules[0]
            self.models = stacked.stack(modules, device)

    # --- what the env shows ---------------------------------------------------------------
    @property
    def encoded(self) -> bool:
        return self.slots > 0

    @property
    def width(self) -> int:
        """Length of the augmented observation."""
        return self.obs + self.slots * self.transition

    def wrap(self, env: Any) -> Any:
        """The env as the agent sees it: with each env's window appended when encoded."""
        return TransitionWindows(env, self) if self.encoded else env

    # --- networks -------------------------------------------------------------------------
    def build(self, head: Any, inputs: int) -> Any:
        """A member's network: ``head(inputs)`` alone, or with the encoder when encoded
        (the head then reads the observation and the embedding)."""
        if not self.encoded:
            return head(inputs)
        cfg = self.config
        encoder = mlp(self.transition, cfg.context_size, cfg.encoder_hidden, 2)
        return ContextNetwork(head(inputs - self.width + self.obs + cfg.context_size), encoder)

    def rl_parameters(self, params: stacked.Params) -> list[torch.Tensor]:
        """The network parameters the RL loss trains (not a frozen or EPI encoder)."""
        return [
            value
            for name, value in params.items()
            if self.rl_trains_encoder or not name.startswith("encoder.")
        ]

    def window(self, x: torch.Tensor) -> torch.Tensor:
        """The slots ``[..., slots, transition]`` of augmented observations ``[..., width]``."""
        return x[..., self.obs : self.width].reshape(*x.shape[:-1], self.slots, self.transition)

    def embed(self, template: Any, params: stacked.Params, slots: torch.Tensor) -> torch.Tensor:
        """The masked mean of the encoder's outputs over the valid slots ``[..., d]``; it
        reads each transition as (s, a, r, s' - s)."""
        valid = slots[..., -1:]
        o, a = self.obs, self.actions
        change = slots[..., o + a + 1 : 2 * o + a + 1] - slots[..., :o]  # what dynamics do
        slots = torch.cat([slots[..., : o + a + 1], change, valid], -1)
        features = stacked.sequential(template.encoder, params, slots, "encoder.")
        return (features * valid).sum(-2) / valid.sum(-2).clamp(min=1.0)

    def context_slots(self, slots: torch.Tensor) -> torch.Tensor:
        """The slots the Q-network's embedding reads: the window, or the probe's."""
        return slots[..., : self.probe_steps, :] if self.probe_steps else slots

    def forward(self, template: Any, params: stacked.Params, x: torch.Tensor) -> torch.Tensor:
        """The head's output on augmented observations ``[P, ..., width]``."""
        if not self.encoded:
            return stacked.sequential(template, params, x)
        z = self.embed(template, params, self.context_slots(self.window(x)))
        if not self.rl_trains_encoder:
            z = z.detach()
        inputs = torch.cat([x[..., : self.obs], x[..., self.width :], z], dim=-1)
        return stacked.sequential(template.head, params, inputs, "head.")

    @torch.no_grad()
    def embeddings(self, template: Any, params: stacked.Params, x: torch.Tensor) -> torch.Tensor:
        """The embedding z ``[P, ..., d]`` the Q-network reads (a linear probe's input)."""
        return self.embed(template, params, self.context_slots(self.window(x)))

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
        """``actions`` ``[P * n]`` with the probe's rows replaced by the probing policy's:
        sampled with ``draws`` (a uniform per row), or its most likely action."""
        if not self.probe_steps:
            return actions
        members = len(next(iter(self.models.values())))
        x = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        logits, probing = self.probe_logits(x.reshape(members, -1, x.shape[-1]))
        probing = probing.reshape(-1).cpu().numpy()
        if not probing.any():
            return actions
        logits = logits.reshape(-1, self.actions)
        if draws is None:
            chosen = logits.argmax(-1).cpu().numpy()
        else:
            cumulative = torch.softmax(logits.double(), -1).cumsum(-1).cpu().numpy()
            chosen = (draws[:, None] > cumulative[:, :-1]).sum(-1)
        return np.where(probing, chosen, actions)

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
        log_pi = torch.log_softmax(logits, -1)
        valid = probe[..., -1]
        taken = (log_pi * probe[..., o : o + a]).sum(-1)
        entropy = -(log_pi.exp() * log_pi).sum(-1)
        filled = valid.sum(-1).clamp(min=1.0)
        return (taken * valid).sum(-1), (entropy * valid).sum(-1) / filled
