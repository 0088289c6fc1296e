"""The loop, replay and checkpoints of off-policy agents with continuous actions (sac,
ddpg), for a population of P members trained as one computation (a lone run is a
population of one): each member has one environment, puts one transition per step into
its own uniform replay and, once ``learning_starts`` steps are in, takes one gradient
update per step, as CleanRL's sac_continuous_action and ddpg_continuous_action do. Each
agent's file holds its networks and its update rule (``networks``, ``act``, ``update``);
this file holds everything around them.

Member m computes what a population of one with its seed and config computes: its
networks are built under its seed, it draws from its own NumPy generator (random actions,
replay indices) and its own torch generator (the actor's noise), and no operation mixes
members. Members step in lockstep through gymnasium's NEXT_STEP autoreset: the step after
an episode's end only resets that member's env, stores nothing, and counts, so every
member has the same step count.

A ``context`` mode (agents/common/context_modes.py) adds to the observation the window of
the episode's transitions and to what actor and critics read the embedding of it
(``view``); the replay keeps the observations with their windows.

Actions live in [-1, 1] inside the agent (a tanh-squashed or tanh-bounded actor) and are
scaled to the environment's Box bounds on the way out; the replay stores the agent's
[-1, 1] actions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.common import networks, stacked
from agents.common.cadence import REPORT_INTERVAL, Cadence, Ticks
from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state
from agents.common.context_modes import ContextInputs, context_task_params
from agents.common.population import PopulationReport, check_members, greedy_member_returns
from agents.common.replay import ContinuousReplay
from agents.common.seeds import eval_env_seed, train_env_seed
from agents.common.transition_windows import TransitionWindows
from envs.config import MAX_STEPS, Config, ConfigError, bounded
from envs.registry import TaskFamily

DYNAMICS_CLIP = 10.0
"""Gradient-norm bound of the dynamics models' steps (the Q-learning agents' default)."""


@dataclass
class OffPolicyConfig(Config):
    learning_starts: int = bounded(1000, 1, MAX_STEPS)
    """Env steps of uniformly random actions before the first update (CleanRL: 5,000 on
    1M-step runs; 1,000 leaves Pendulum's 30,000-step budget room to learn)."""
    buffer_size: int = bounded(100_000, 1, 10_000_000)
    """Transitions the replay keeps (the oldest are overwritten)."""
    batch_size: int = bounded(256, 1, 65536)
    """Transitions per gradient update."""
    discount: float = bounded(0.99, 0.0, 1.0, per_member=True)
    """Discount factor gamma of the critic's targets."""
    tau: float = bounded(0.005, 0.0, 1.0, low_open=True, per_member=True)
    """Polyak weight of the online networks in each target-network update."""
    hidden_size: int = bounded(256, 1, 4096)
    """Units of each of the two ReLU layers of the actor and of each critic."""
    eval_interval: int = bounded(5000, 1, MAX_STEPS)
    """Env steps between greedy evaluations (and one at the end)."""
    eval_episodes: int = bounded(10, 1, 1000)
    """Episodes of each greedy evaluation."""


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    """Two ReLU layers of ``hidden`` units (``networks.mlp``'s layout and initialisation)."""
    return networks.mlp(inputs, outputs, hidden, hidden_layers=2)


class OffPolicyMembers:
    """P lifetimes of an off-policy continuous-action agent, one env each.

    Subclasses write ``build_networks()`` (one member's online networks by name, built under
    its seed), ``TARGETS`` (the names whose target copies follow by ``tau``),
    ``optimizers()``, ``act(obs, explore)`` (actions in [-1, 1], ``[P, N, action_size]``
    from observations ``[P, N, width]``) and ``update(batch)`` (one gradient step of
    every member, returning one dict of scalars per member)."""

    config: OffPolicyConfig
    TARGETS: tuple[str, ...] = ()

    def __init__(
        self,
        configs: Sequence[OffPolicyConfig],
        task: TaskFamily,
        task_params: Config,
        seeds: Sequence[int],
        device: str = "cpu",
    ) -> None:
        check_members(configs, seeds)
        self.configs, self.seeds = list(configs), [int(seed) for seed in seeds]
        self.config = cfg = self.configs[0]  # the shared fields
        self.members = len(self.configs)
        self.task, self.device = task, torch.device(device)
        self.field_values: dict[str, torch.Tensor] = {}
        self.task_params = context_task_params(cfg, task_params)  # explicit: factors shown
        env = task.make_member_envs(self.task_params, 1, self.members)
        space = env.single_action_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            env.close()
            raise ConfigError(
                f"{type(self).__name__.lower()} needs a task with continuous (Box) actions; "
                f"this one has {space}"
            )
        self.low, self.high = space.low.astype(np.float32), space.high.astype(np.float32)
        size, self.action_size = int(np.prod(env.single_observation_space.shape)), space.shape[0]
        # What the networks see of the dynamics (context modes): windows, an embedding.
        self.inputs = ContextInputs(cfg, size, self.action_size, self.seeds, device, False)
        self.env = self.wrap_vector(env)
        self.rngs = [np.random.default_rng(seed) for seed in self.seeds]
        self.generators = [torch.Generator().manual_seed(seed) for seed in self.seeds]
        self.observation_size = size + (cfg.context_size if self.inputs.encoded else 0)
        built = networks.build_members(lambda: nn.ModuleDict(self.member_networks()), self.seeds)
        self.templates = dict(built[0].items())
        self.params = {name: stacked.stack([m[name] for m in built], device) for name in built[0]}
        for name in self.TARGETS:
            self.templates[f"{name}_target"] = self.templates[name]
            self.params[f"{name}_target"] = {
                key: value.detach().clone() for key, value in self.params[name].items()
            }
        self.encoder = self.params.get("context_encoder", {})
        self.inputs.attach(self.encoder)
        self.optimizers = self.make_optimizers()
        self.replay = ContinuousReplay(
            self.members, cfg.buffer_size, self.inputs.width, self.action_size
        )
        self.steps_done = 0
        self.updates = 0
        self.evaluations = np.zeros(self.members, dtype=np.int64)

    # --- what each agent writes --------------------------------------------------------
    def build_networks(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def make_optimizers(self) -> dict[str, stacked.StackedAdam]:
        raise NotImplementedError

    def act(self, obs: torch.Tensor, explore: bool) -> torch.Tensor:
        raise NotImplementedError

    def update(self, batch: dict[str, torch.Tensor]) -> list[dict[str, float]]:
        raise NotImplementedError

    # --- helpers for the agents' files --------------------------------------------------
    def member_networks(self) -> dict[str, nn.Module]:
        """One member's modules: the context encoder first (when encoded), then the agent's."""
        encoder = {"context_encoder": self.inputs.encoder_only()} if self.inputs.encoded else {}
        return encoder | self.build_networks()

    def per_member(self, name: str) -> torch.Tensor:
        """Every member's value of a config field ``[P]``, built once (the updates and
        acting read discount, tau and noise every step); callers do not write to it."""
        if name not in self.field_values:
            values = [float(getattr(config, name)) for config in self.configs]
            self.field_values[name] = torch.tensor(values, dtype=torch.float32, device=self.device)
        return self.field_values[name]

    def adam(self, params: Sequence[torch.Tensor], rate: str) -> stacked.StackedAdam:
        """Adam over stacked parameters at each member's value of the field ``rate``."""
        return stacked.StackedAdam(params, self.per_member(rate).double())

    def forward(self, name: str, x: torch.Tensor, prefix: str = "") -> torch.Tensor:
        """Network ``name`` (a Sequential, or the part of one under ``prefix``) of every
        member on ``[P, N, inputs]``."""
        template = self.templates[name]
        for part in filter(None, prefix.split(".")):
            template = getattr(template, part) if not part.isdigit() else template[int(part)]
        return stacked.sequential(template, self.params[name], x, prefix)

    def normal(self, shape: Sequence[int]) -> torch.Tensor:
        """Standard normals ``[P, *shape]``, each member's from its own generator."""
        draws = [torch.randn(tuple(shape), generator=g) for g in self.generators]
        return torch.stack(draws).to(self.device)

    @staticmethod
    def step(optimizer: stacked.StackedAdam, loss: torch.Tensor) -> None:
        """One Adam step of each member on its loss ``[P]`` (members share no parameter:
        the sum's gradient is each member's own)."""
        optimizer.step(torch.autograd.grad(loss.sum(), optimizer.params))

    @torch.no_grad()
    def soft_update(self) -> None:
        """target <- tau * online + (1 - tau) * target, each member at its own tau."""
        tau = self.per_member("tau")
        for name in self.TARGETS:
            for key, target in self.params[f"{name}_target"].items():
                target.lerp_(self.params[name][key].detach(), stacked.member_view(tau, target))

    # --- what the networks read: the observation and, when encoded, the embedding --------
    def wrap_vector(self, env: Any) -> Any:
        """A vector env of this task (an evaluation split's) as the agent sees it."""
        if not self.inputs.encoded:
            return env
        return TransitionWindows(env, self.inputs, to_agent=self.agent_action)

    def view(self, x: torch.Tensor, train: bool = False) -> torch.Tensor:
        """Stored observations ``[P, B, width]`` as the networks read them; ``train``: the
        loss being taken trains the encoder (learned; predictive fine-tuned)."""
        if not self.inputs.encoded:
            return x
        encoder = self.templates["context_encoder"]
        return self.inputs.head_inputs(encoder, self.encoder, x, train)

    def encoder_parameters(self) -> list[torch.Tensor]:
        """The encoder's parameters when the critics' loss trains it, for their optimiser."""
        return self.inputs.rl_parameters(self.encoder)

    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        """The deterministic actor's actions (a probe's, sampled while ``evaluating``) for
        every member's observations ``[P * N, width]``, in the env's bounds."""
        with torch.no_grad():
            x = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
            x = x.reshape(self.members, -1, x.shape[-1])
            actions = self.act(x, explore=False).reshape(-1, self.action_size).cpu().numpy()
        if self.inputs.probe_steps:
            actions = self.inputs.probe_actions(observations, actions, None)
        return self.env_action(actions)

    def agent_action(self, action: np.ndarray) -> np.ndarray:
        """The env's bounds -> [-1, 1]."""
        return (2.0 * (action - self.low) / (self.high - self.low) - 1.0).astype(np.float32)

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> the environment's bounds."""
        return self.low + (action + 1.0) * 0.5 * (self.high - self.low)

    # --- the loop ------------------------------------------------------------------------
    def explore(self, observations: np.ndarray, random: bool) -> np.ndarray:
        """Every member's exploring action ``[P, action_size]`` in [-1, 1]: uniform while
        ``random``, else the actor's; during an episode's probe the probing policy's."""
        if random:
            actions = np.stack([rng.uniform(-1.0, 1.0, self.action_size) for rng in self.rngs])
            actions = actions.astype(np.float32)
        else:
            with torch.no_grad():
                x = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
                actions = self.act(x[:, None], explore=True)[:, 0].cpu().numpy()
        if not self.inputs.probe_steps:
            return actions
        draws = np.concatenate([rng.standard_normal((1, self.action_size)) for rng in self.rngs])
        return self.inputs.probe_actions(observations, actions, draws)

    def learn(
        self, total_steps: int, *, tick_seconds: float | None = None
    ) -> Iterator[PopulationReport]:
        cfg, members = self.config, self.members
        cadence = Cadence(total_steps, cfg.eval_interval, REPORT_INTERVAL)
        ticks = Ticks(tick_seconds)
        # A resumed run starts fresh episodes, seeded by where it resumes.
        obs, _ = self.env.reset([train_env_seed(s, self.steps_done) for s in self.seeds])
        after_done = np.zeros(members, dtype=bool)  # the next step only resets (NEXT_STEP)
        episode_return, episode_length = np.zeros(members), np.zeros(members, dtype=np.int64)
        scalars: list[dict[str, float]] = [{} for _ in range(members)]
        random_steps = max(cfg.learning_starts, self.inputs.random_steps)
        while self.steps_done < total_steps:
            actions = self.explore(obs, random=self.steps_done < random_steps)
            next_obs, reward, terminated, truncated, _ = self.env.step(self.env_action(actions))
            real = ~after_done
            # A time limit is not a termination: the critics bootstrap through it.
            self.replay.add(np.flatnonzero(real), obs, actions, reward, next_obs, terminated)
            episode_return += reward * real
            episode_length += real
            done = (terminated | truncated) & real
            for member in np.flatnonzero(done):
                scalars[member]["charts/episode_return"] = float(episode_return[member])
                scalars[member]["charts/episode_length"] = float(episode_length[member])
            episode_return[done], episode_length[done] = 0.0, 0
            after_done, obs = terminated | truncated, next_obs
            before = self.steps_done
            self.steps_done += 1
            if self.steps_done == self.inputs.random_steps:  # predictive: pre-train the encoder
                for _ in range(cfg.predictive_updates):
                    self.dynamics_step()
                    del self.inputs.logs[:-100]
                    if ticks.due():
                        yield PopulationReport(self.steps_done, [{} for _ in range(members)], True)
            if self.steps_done >= random_steps:
                batch = self.replay.sample(cfg.batch_size, self.rngs)
                batch = {key: value.to(self.device) for key, value in batch.items()}
                for member_scalars, new in zip(scalars, self.update(batch), strict=True):
                    member_scalars.update(new)
                if self.inputs.probe_steps:  # EPI: the dynamics models and probing policy
                    self.dynamics_step(batch["observations"])
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                returns = self.evaluate(cfg.eval_episodes)
                for member, member_scalars in enumerate(scalars):
                    member_scalars["eval/episode_return"] = float(returns[member].mean())
                    member_scalars["eval/episode_return_std"] = float(returns[member].std())
            if due.report:
                for member_scalars, errors in zip(
                    scalars, self.inputs.scalars(members), strict=True
                ):
                    member_scalars.update(errors)  # the dynamics losses (predictive, probing)
                yield PopulationReport(self.steps_done, scalars)
                scalars = [{} for _ in range(members)]
            elif ticks.due():
                yield PopulationReport(self.steps_done, [{} for _ in range(members)], True)

    def dynamics_step(self, x: torch.Tensor | None = None) -> None:
        """One step of the dynamics models (and the encoder and probing policy they train)
        on stored observations ``x`` ``[P, B, width]``, or on a fresh minibatch."""
        if x is None:
            x = self.replay.sample(self.config.batch_size, self.rngs)["observations"]
        clip = torch.full((self.members,), DYNAMICS_CLIP, device=self.device)
        encoder = self.templates["context_encoder"]
        self.inputs.dynamics_step(encoder, self.encoder, x.to(self.device), clip)

    def evaluate(self, episodes: int) -> np.ndarray:
        """Greedy (deterministic-actor) returns ``[P, episodes]``, every member's episodes
        in one batch, each evaluation of a member on new env seeds of its own."""
        self.evaluations += 1
        seeds = [
            eval_env_seed(s, int(k)) for s, k in zip(self.seeds, self.evaluations, strict=True)
        ]
        with self.inputs.evaluating(seeds):  # probing: probes sampled, as in training
            return greedy_member_returns(
                self.task, self.task_params, seeds, episodes, self.greedy_actions, self.wrap_vector
            )

    # --- checkpoints: one member's, in the lone agent's layout ---------------------------
    def member_weights(self, member: int) -> dict[str, Any]:
        return {name: stacked.member_state(params, member) for name, params in self.params.items()}

    def load_member_weights(self, member: int, state: dict[str, Any]) -> None:
        missing = sorted(set(self.params) - set(state))
        if missing:
            raise RuntimeError(f"missing networks: {', '.join(missing)}")
        for name, params in self.params.items():
            stacked.load_member_state(params, member, state[name])

    def member_state(self, member: int) -> dict[str, Any]:
        return {
            "networks": self.member_weights(member),
            "optimizers": {name: opt.member_state(member) for name, opt in self.optimizers.items()},
            "replay": self.replay.member_state(member),
            "rng": numpy_rng_state(self.rngs[member]),
            "torch_rng": self.generators[member].get_state(),
            "steps_done": self.steps_done,
            "evaluations": int(self.evaluations[member]),
            "updates": self.updates,
            **self.inputs.member_state(member),
            **self.extra_state(member),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        """Take a member's checkpoint (``member_state``, or a lone run's of before
        populations, the same layout). Members resumed together share their step count:
        the last one loaded sets it."""
        self.load_member_weights(member, state["networks"])
        for name, opt in self.optimizers.items():
            opt.load_member_state(member, state["optimizers"][name])
        self.replay.load_member_state(member, state["replay"])
        set_numpy_rng_state(self.rngs[member], state["rng"])
        self.generators[member].set_state(state["torch_rng"])
        self.steps_done = int(state["steps_done"])
        self.evaluations[member] = int(state["evaluations"])
        self.updates = int(state.get("updates", 0))
        self.inputs.load_member_state(member, state)
        self.load_extra(member, state)

    def extra_state(self, member: int) -> dict[str, Any]:
        """What an agent keeps beyond networks and optimisers (SAC: its temperature)."""
        return {}

    def load_extra(self, member: int, state: dict[str, Any]) -> None:
        pass
