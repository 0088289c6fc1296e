"""The windows of transitions the encoded context modes (agents/common/context_modes.py)
append to every observation: kept per env of a vector env (``TransitionWindows``, the
Q-learning agents') or of one env (``EnvWindows``, the off-policy continuous agents').

Sliding (``learned``, ``predictive``): the last ``slots`` transitions of the episode,
newest last. Probing: the probe's transitions in slots 0..p-1 as they come, then every
later transition in slot p (the newest one, the dynamics loss's target). A slot is
``[s, a, r, s', 1]`` (a one-hot for discrete actions, the agent's [-1, 1] action for
continuous ones), all zeros while unfilled.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class Windows:
    """The windows of ``num_envs`` envs."""

    def __init__(self, num_envs: int, inputs: Any) -> None:
        self.inputs, self.num_envs = inputs, num_envs
        self.slots = np.zeros((num_envs, inputs.slots, inputs.transition), np.float32)
        self.filled = np.zeros(num_envs, dtype=np.int64)

    def clear(self, envs: Any = slice(None)) -> None:
        """Empty the windows of ``envs`` (all by default): their episodes start."""
        self.slots[envs] = 0.0
        self.filled[envs] = 0

    def augment(self, observations: np.ndarray) -> np.ndarray:
        flat = self.slots.reshape(self.num_envs, -1)
        return np.concatenate([observations.astype(np.float32), flat], axis=1)

    def push(self, envs: np.ndarray, last, actions, rewards, observations) -> None:
        """The transitions (last -> observations) of ``envs`` (indices; the other arrays
        have a row per env)."""
        inputs = self.inputs
        o, a = inputs.obs, inputs.actions
        rows = np.zeros((len(envs), inputs.transition), np.float32)
        rows[:, :o] = last[envs]
        if inputs.discrete:  # a one-hot of the action
            chosen = np.asarray(actions).reshape(-1)[envs].astype(np.int64)
            rows[np.arange(len(envs)), o + chosen] = 1.0
        else:  # the agent's action in [-1, 1]
            rows[:, o : o + a] = np.asarray(actions, np.float32).reshape(self.num_envs, a)[envs]
        rows[:, o + a] = np.asarray(rewards)[envs]
        rows[:, o + a + 1 : 2 * o + a + 1] = observations[envs]
        rows[:, -1] = 1.0
        probe = inputs.probe_steps
        if not probe:
            self.slots[envs, :-1] = self.slots[envs, 1:]
            self.slots[envs, -1] = rows
            return
        in_probe = self.filled[envs] < probe
        probing = envs[in_probe]
        self.slots[probing, self.filled[probing]] = rows[in_probe]
        self.filled[probing] += 1
        self.slots[envs[~in_probe], probe] = rows[~in_probe]


class TransitionWindows:
    """A vector env (or a population's member envs) whose observations carry each env's
    window (NEXT_STEP autoreset: the step after an episode's end starts a new window).
    ``to_agent`` maps the env's actions to those the window keeps (a continuous agent's
    [-1, 1] actions from the env's bounds)."""

    def __init__(self, env: Any, inputs: Any, to_agent: Any = None) -> None:
        self.env, self.to_agent = env, to_agent
        self.num_envs = env.num_envs
        self.single_action_space = env.single_action_space
        self.single_observation_space = gym.spaces.Box(
            -np.inf, np.inf, (inputs.width,), dtype=np.float32
        )
        self.windows = Windows(self.num_envs, inputs)
        self.after_done = np.zeros(self.num_envs, dtype=bool)
        self.last: np.ndarray | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, *args: Any, **kwargs: Any):
        observations, info = self.env.reset(*args, **kwargs)
        self.windows.clear()
        self.after_done[:] = False
        self.last = observations
        return self.windows.augment(observations), info

    def step(self, actions: np.ndarray):
        observations, rewards, terminated, truncated, info = self.env.step(actions)
        real = ~self.after_done
        if real.any():
            kept = actions if self.to_agent is None else self.to_agent(actions)
            self.windows.push(np.flatnonzero(real), self.last, kept, rewards, observations)
        if self.after_done.any():  # these envs' observations start new episodes
            self.windows.clear(self.after_done)
        self.after_done = terminated | truncated
        self.last = observations
        return self.windows.augment(observations), rewards, terminated, truncated, info

    def close(self) -> None:
        self.env.close()


class EnvWindows(gym.Wrapper):
    """One env (reset by its user when an episode ends) whose observation carries the
    window of its episode. ``step`` takes besides the env's action the one the window
    keeps (``record``: a continuous agent's [-1, 1] action, before scaling to the env's
    bounds)."""

    def __init__(self, env: gym.Env, inputs: Any) -> None:
        super().__init__(env)
        self.windows = Windows(1, inputs)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (inputs.width,), np.float32)
        self.last = np.zeros((1, inputs.obs), np.float32)

    def reset(self, **kwargs: Any):
        observation, info = self.env.reset(**kwargs)
        self.windows.clear()
        self.last = np.asarray(observation, np.float32).reshape(1, -1)
        return self.windows.augment(self.last)[0], info

    def step(self, action: Any, record: Any = None):
        observation, reward, terminated, truncated, info = self.env.step(action)
        kept = np.asarray(action if record is None else record).reshape(1, -1)
        observation = np.asarray(observation, np.float32).reshape(1, -1)
        self.windows.push(np.zeros(1, np.int64), self.last, kept, [reward], observation)
        self.last = observation
        return self.windows.augment(observation)[0], reward, terminated, truncated, info
