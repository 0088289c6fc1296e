"""The loop, replay and checkpoints of off-policy agents with continuous actions (sac,
ddpg): one environment, one transition per step into a uniform replay, one gradient
update per step once ``learning_starts`` steps are in, as CleanRL's sac_continuous_action
and ddpg_continuous_action do. Each agent's file holds its networks and its update rule
(``act``, ``update``); this file holds everything around them.

A ``context`` mode (agents/common/context_modes.py) adds to the observation the window of
the episode's transitions (``EnvWindows``) and to what actor and critics read the
embedding of it (``view``); the replay keeps the observations with their windows.

Actions live in [-1, 1] inside the agent (a tanh-squashed or tanh-bounded actor) and are
scaled to the environment's Box bounds on the way out; the replay stores the agent's
[-1, 1] actions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.common import networks, stacked
from agents.common.base import Report
from agents.common.cadence import REPORT_INTERVAL, Cadence, Ticks
from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state, to_cpu
from agents.common.context_modes import ContextInputs, context_task_params
from agents.common.seeds import eval_env_seed, train_env_seed
from agents.common.transition_windows import EnvWindows, TransitionWindows
from envs.config import MAX_STEPS, Config, ConfigError, bounded

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
    discount: float = bounded(0.99, 0.0, 1.0)
    """Discount factor gamma of the critic's targets."""
    tau: float = bounded(0.005, 0.0, 1.0, low_open=True)
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


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- tau * online + (1 - tau) * target, parameter by parameter."""
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.lerp_(o, tau)


class Replay:
    """A ring buffer of (s, a, r, s', terminated) as preallocated arrays."""

    def __init__(self, size: int, observation_size: int, action_size: int) -> None:
        self.size, self.count, self.next = size, 0, 0
        self.observations = np.zeros((size, observation_size), np.float32)
        self.actions = np.zeros((size, action_size), np.float32)
        self.rewards = np.zeros(size, np.float32)
        self.next_observations = np.zeros((size, observation_size), np.float32)
        self.terminated = np.zeros(size, np.float32)

    def add(self, obs, action, reward, next_obs, terminated) -> None:
        i = self.next
        self.observations[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_observations[i], self.terminated[i] = next_obs, terminated
        self.next = (i + 1) % self.size
        self.count = min(self.count + 1, self.size)

    FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")

    def rows(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(getattr(self, name)[index]) for name in self.FIELDS}

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        return self.rows(rng.integers(0, self.count, size=batch))

    def state_dict(self) -> dict[str, Any]:
        """The filled rows only, oldest first (a checkpoint of an early run stays small)."""
        oldest = self.next if self.count == self.size else 0
        return self.rows((np.arange(self.count) + oldest) % self.size)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        count = min(len(state["rewards"]), self.size)
        for name in self.FIELDS:
            getattr(self, name)[:count] = state[name][-count:].numpy()
        self.count, self.next = count, count % self.size


class OffPolicyLearner:
    """One lifetime of an off-policy continuous-action agent on one environment.

    Subclasses build ``self.networks`` (name -> module, targets included) and
    ``self.optimizers`` (name -> optimiser) in ``build``, and write ``act(obs, explore)``
    (actions in [-1, 1], ``[action_size]``) and ``update(batch)`` (one gradient step,
    returning its scalars)."""

    config: OffPolicyConfig

    def __init__(self, config: OffPolicyConfig, task, task_params: Config, seed: int, device="cpu"):
        self.config, self.task, self.seed = config, task, seed
        self.task_params = context_task_params(config, task_params)  # explicit: factors shown
        self.device = torch.device(device)
        env = task.make_env(self.task_params)
        space = env.action_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ConfigError(
                f"{type(self).__name__.lower()} needs a task with continuous (Box) actions; "
                f"this one has {space}"
            )
        self.low, self.high = space.low.astype(np.float32), space.high.astype(np.float32)
        size, self.action_size = int(np.prod(env.observation_space.shape)), space.shape[0]
        # What the networks see of the dynamics (context modes): windows, an embedding.
        self.inputs = ContextInputs(config, size, self.action_size, [seed], device, False)
        self.env = self.wrap(env)
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        self.encoder: stacked.Params = {}
        if self.inputs.encoded:
            self.encoder_template = self.inputs.encoder_only()
            self.encoder = stacked.stack([self.encoder_template], self.device)
        self.inputs.attach(self.encoder)
        self.observation_size = size + (config.context_size if self.inputs.encoded else 0)
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.build()
        for network in self.networks.values():
            network.to(self.device)
        self.replay = Replay(config.buffer_size, self.inputs.width, self.action_size)
        self.steps_done = 0
        self.evaluations = 0

    # --- what each agent writes --------------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def act(self, obs: torch.Tensor, explore: bool) -> torch.Tensor:
        raise NotImplementedError

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError

    # --- what the networks read: the observation and, when encoded, the embedding --------
    def wrap(self, env: gym.Env) -> gym.Env:
        return EnvWindows(env, self.inputs) if self.inputs.encoded else env

    def wrap_vector(self, env: Any) -> Any:
        """A vector env of this task (an evaluation split's) as the agent sees it."""
        if not self.inputs.encoded:
            return env
        return TransitionWindows(env, self.inputs, to_agent=self.agent_action)

    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        """The deterministic actor's actions (a probe's, sampled while ``evaluating``) for
        observations ``[N, width]``, in the env's bounds ``[N, size]``."""
        with torch.no_grad():
            x = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
            actions = self.act(x, explore=False).cpu().numpy()
        if self.inputs.probe_steps:
            actions = self.inputs.probe_actions(observations, actions, None)
        return self.env_action(actions)

    def agent_action(self, action: np.ndarray) -> np.ndarray:
        """The env's bounds -> [-1, 1]."""
        return (2.0 * (action - self.low) / (self.high - self.low) - 1.0).astype(np.float32)

    def view(self, x: torch.Tensor, train: bool = False) -> torch.Tensor:
        """Stored observations ``[B, width]`` as the networks read them; ``train``: the
        loss being taken trains the encoder (learned; predictive fine-tuned)."""
        if not self.inputs.encoded:
            return x
        return self.inputs.head_inputs(self.encoder_template, self.encoder, x[None], train)[0]

    def encoder_parameters(self) -> list[torch.Tensor]:
        """The encoder's parameters when the critics' loss trains it, for their optimiser."""
        return self.inputs.rl_parameters(self.encoder)

    # --- the loop ------------------------------------------------------------------------
    def env_action(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> the environment's bounds."""
        return self.low + (action + 1.0) * 0.5 * (self.high - self.low)

    def choose(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        """The actor's action (probing: the probing policy's during an episode's probe)."""
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32, device=self.device).reshape(1, -1)
            action = self.act(x, explore)[0].cpu().numpy()
        return self.probe(obs, action, explore)

    def probe(self, obs: np.ndarray, action: np.ndarray, explore: bool) -> np.ndarray:
        if not self.inputs.probe_steps:
            return action
        draws = self.rng.standard_normal((1, self.action_size)) if explore else None
        return self.inputs.probe_actions(obs.reshape(1, -1), action[None], draws)[0]

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        cfg = self.config
        cadence = Cadence(total_steps, cfg.eval_interval, REPORT_INTERVAL)
        ticks = Ticks(tick_seconds)
        obs, _ = self.env.reset(seed=train_env_seed(self.seed, self.steps_done))
        episode_return, episode_length = 0.0, 0
        scalars: dict[str, float] = {}
        random_steps = max(cfg.learning_starts, self.inputs.random_steps)
        while self.steps_done < total_steps:
            if self.replay.count < random_steps:
                action = self.rng.uniform(-1.0, 1.0, self.action_size).astype(np.float32)
                action = self.probe(obs, action, explore=True)
            else:
                action = self.choose(obs, explore=True)
            next_obs, reward, terminated, truncated, _ = self.step(self.env, action)
            # A time limit is not a termination: the critic bootstraps through it.
            self.replay.add(obs.reshape(-1), action, reward, next_obs.reshape(-1), terminated)
            obs = next_obs
            episode_return += float(reward)
            episode_length += 1
            if terminated or truncated:
                scalars["charts/episode_return"] = episode_return
                scalars["charts/episode_length"] = float(episode_length)
                episode_return, episode_length = 0.0, 0
                obs, _ = self.env.reset()
            before = self.steps_done
            self.steps_done += 1
            if self.steps_done == self.inputs.random_steps:  # predictive: pre-train the encoder
                for _ in range(cfg.predictive_updates):
                    self.dynamics_step()
                    del self.inputs.logs[:-100]
            if self.replay.count >= random_steps:
                batch = self.replay.sample(cfg.batch_size, self.rng)
                batch = {key: value.to(self.device) for key, value in batch.items()}
                scalars |= self.update(batch)
                if self.inputs.probe_steps:  # EPI: the dynamics models and probing policy
                    self.dynamics_step(batch["observations"])
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                returns = self.evaluate(cfg.eval_episodes)
                scalars["eval/episode_return"] = float(returns.mean())
                scalars["eval/episode_return_std"] = float(returns.std())
            if due.report:
                scalars |= self.inputs.scalars(1)[0]  # the dynamics losses (predictive, probing)
                yield Report(self.steps_done, scalars)
                scalars = {}
            elif ticks.due():
                yield Report(self.steps_done, {}, tick=True)

    def step(self, env: gym.Env, action: np.ndarray):
        """Step ``env`` with the agent's [-1, 1] action scaled to its bounds (a window
        keeps the agent's)."""
        if self.inputs.encoded:
            return env.step(self.env_action(action), record=action)
        return env.step(self.env_action(action))

    def dynamics_step(self, x: torch.Tensor | None = None) -> None:
        """One step of the dynamics models (and the encoder and probing policy they train)
        on stored observations ``x`` ``[B, width]``, or on a fresh minibatch."""
        if x is None:
            x = self.replay.sample(self.config.batch_size, self.rng)["observations"]
        x, clip = x.to(self.device)[None], torch.tensor([DYNAMICS_CLIP], device=self.device)
        self.inputs.dynamics_step(self.encoder_template, self.encoder, x, clip)

    def evaluate(self, episodes: int) -> np.ndarray:
        """Greedy (deterministic-actor) returns of ``episodes`` episodes on a fresh env
        seeded by the evaluation's count."""
        self.evaluations += 1
        env = self.wrap(self.task.make_env(self.task_params))
        returns = np.zeros(episodes)
        with self.inputs.evaluating([eval_env_seed(self.seed, self.evaluations)]):
            self.play_episodes(env, returns)
        env.close()
        return returns

    def play_episodes(self, env: gym.Env, returns: np.ndarray) -> None:
        """One greedy episode per entry of ``returns``, each on its own env seed."""
        for episode in range(len(returns)):
            seed = eval_env_seed(self.seed, self.evaluations) * 1000 + episode
            obs, _ = env.reset(seed=seed)
            done = False
            while not done:
                action = self.choose(obs, explore=False)
                obs, reward, terminated, truncated, _ = self.step(env, action)
                returns[episode] += float(reward)
                done = terminated or truncated

    # --- checkpoints ---------------------------------------------------------------------
    def weights(self) -> dict[str, Any]:
        weights = {name: to_cpu(net.state_dict()) for name, net in self.networks.items()}
        if self.encoder:
            weights["context_encoder"] = stacked.member_state(self.encoder, 0)
        return weights

    def load_weights(self, state: dict[str, Any]) -> None:
        missing = sorted(set(self.networks) - set(state))
        if missing:
            raise RuntimeError(f"missing networks: {', '.join(missing)}")
        for name, net in self.networks.items():
            net.load_state_dict(state[name])
        if self.encoder:
            stacked.load_member_state(self.encoder, 0, state["context_encoder"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": self.weights(),
            "optimizers": {name: to_cpu(opt.state_dict()) for name, opt in self.optimizers.items()},
            "replay": self.replay.state_dict(),
            "rng": numpy_rng_state(self.rng),
            "torch_rng": torch.get_rng_state(),
            "steps_done": self.steps_done,
            "evaluations": self.evaluations,
            **self.inputs.member_state(0),
            **self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_weights(state["networks"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.replay.load_state_dict(state["replay"])
        set_numpy_rng_state(self.rng, state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.steps_done = int(state["steps_done"])
        self.evaluations = int(state["evaluations"])
        self.inputs.load_member_state(0, state)
        self.load_extra(state)

    def extra_state(self) -> dict[str, Any]:
        """What an agent keeps beyond networks and optimisers (SAC: its temperature)."""
        return {}

    def load_extra(self, state: dict[str, Any]) -> None:
        pass
