"""How a single-task agent sees the dynamics it acts in: the ``context`` modes of a
contextual family (envs/control.py), for dqn's population of P members (a lone run is
one) and for sac's and ddpg's one lifetime (P = 1).

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

The windows are part of the observation the agent stores and replays
(agents/common/transition_windows.py wraps the env and appends each env's window to its
observation), so acting, n-step folding, the replay and every evaluation see the same
augmented observations and the networks are functions of them alone. A window slot is
one transition ``[s, a, r, s', 1]`` (a one-hot of a discrete action, a continuous one in
[-1, 1]), all zeros while unfilled (the last entry says which). For sac and ddpg the
critics' loss is the RL loss that trains a learned encoder, and their target critics
read the online encoder's embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from agents.common import stacked
from agents.common.context_dynamics import ContextDynamics, DynamicsModels
from agents.common.networks import build_members, mlp
from agents.common.transition_windows import TransitionWindows
from envs.config import MAX_STEPS, Config, ConfigError, bounded

CONTEXT_MODES = ("hidden", "explicit", "learned", "predictive", "probing")


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
    probe_steps: int = bounded(4, 1, 100)
    """probing: steps at the start of every episode played by the probing policy (on
    cartpole 8 steps with probe_entropy 0.01 learnt probes that toppled the pole:
    docs/results.md)."""
    probe_entropy: float = bounded(0.1, 0.0, 10.0)
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


READ_BY = {
    "hidden": (),
    "explicit": (),
    "learned": ("context_window", "context_size", "encoder_hidden"),
    "predictive": (
        "context_window",
        "context_size",
        "encoder_hidden",
        "predictive_steps",
        "predictive_updates",
        "predictive_finetune",
        "dynamics_learning_rate",
    ),
    "probing": (
        "context_size",
        "encoder_hidden",
        "probe_steps",
        "probe_entropy",
        "dynamics_learning_rate",
    ),
}
"""The context fields each mode reads (the others change nothing it computes)."""


def unread_fields(mode: str) -> set[str]:
    """The context fields a mode does not read: runs differing only there are alike."""
    from envs.config import fields

    names = {info.name for info in fields(ContextFields)} - {"context"}
    return names - set(READ_BY.get(mode, ()))


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


class ContextInputs(ContextDynamics):
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
        device: torch.device | str,
        discrete: bool = True,
    ) -> None:
        """``num_actions``: the number of discrete actions (a one-hot in the window), or
        with ``discrete`` false the size of a continuous action in [-1, 1]."""
        self.mode = getattr(config, "context", "hidden")
        self.config, self.device, self.discrete = config, torch.device(device), discrete
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

    def encoder_only(self) -> nn.Module:
        """The encoder alone, for an agent whose heads are its own modules (sac, ddpg)."""
        cfg = self.config
        return ContextNetwork(
            nn.Sequential(), mlp(self.transition, cfg.context_size, cfg.encoder_hidden, 2)
        )

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
        return stacked.sequential(
            template.head, params, self.head_inputs(template, params, x), "head."
        )

    def head_inputs(
        self, template: Any, params: stacked.Params, x: torch.Tensor, train: bool = True
    ) -> torch.Tensor:
        """What a head reads of augmented observations ``[P, ..., width]``: the observation
        (and any inputs after the window) and the embedding, through which the RL loss's
        gradient flows only when it trains the encoder (and ``train``)."""
        z = self.embed(template, params, self.context_slots(self.window(x)))
        if not (self.rl_trains_encoder and train):
            z = z.detach()
        return torch.cat([x[..., : self.obs], x[..., self.width :], z], dim=-1)

    @torch.no_grad()
    def embeddings(self, template: Any, params: stacked.Params, x: torch.Tensor) -> torch.Tensor:
        """The embedding z ``[P, ..., d]`` the Q-network reads (a linear probe's input)."""
        return self.embed(template, params, self.context_slots(self.window(x)))
