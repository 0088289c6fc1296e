"""The windows of transitions the encoded context modes (agents/common/context_modes.py)
append to every observation, kept per env of a vector env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class TransitionWindows:
    """A vector env (or a population's member envs) whose observations carry each env's
    window of transitions of its current episode (NEXT_STEP autoreset: the step after an
    episode's end starts a new window).

    Sliding (``learned``, ``predictive``): the last ``slots`` transitions, newest last.
    Probing: the probe's transitions in slots 0..p-1 as they come, then every later
    transition in slot p (the newest one, the dynamics loss's target)."""

    def __init__(self, env: Any, inputs: Any) -> None:
        self.env, self.inputs = env, inputs
        self.num_envs = env.num_envs
        self.single_action_space = env.single_action_space
        self.single_observation_space = gym.spaces.Box(
            -np.inf, np.inf, (inputs.width,), dtype=np.float32
        )
        self.slots = np.zeros((self.num_envs, inputs.slots, inputs.transition), np.float32)
        self.filled = np.zeros(self.num_envs, dtype=np.int64)
        self.after_done = np.zeros(self.num_envs, dtype=bool)
        self.last: np.ndarray | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def augment(self, observations: np.ndarray) -> np.ndarray:
        flat = self.slots.reshape(self.num_envs, -1)
        return np.concatenate([observations.astype(np.float32), flat], axis=1)

    def reset(self, *args: Any, **kwargs: Any):
        observations, info = self.env.reset(*args, **kwargs)
        self.slots[:] = 0.0
        self.filled[:] = 0
        self.after_done[:] = False
        self.last = observations
        return self.augment(observations), info

    def step(self, actions: np.ndarray):
        observations, rewards, terminated, truncated, info = self.env.step(actions)
        real = ~self.after_done
        if real.any():
            self.push(np.flatnonzero(real), actions, rewards, observations)
        if self.after_done.any():  # these envs' observations start new episodes
            self.slots[self.after_done] = 0.0
            self.filled[self.after_done] = 0
        self.after_done = terminated | truncated
        self.last = observations
        return self.augment(observations), rewards, terminated, truncated, info

    def push(self, envs: np.ndarray, actions, rewards, observations) -> None:
        o, a = self.inputs.obs, self.inputs.actions
        rows = np.zeros((len(envs), self.inputs.transition), np.float32)
        rows[:, :o] = self.last[envs]
        rows[np.arange(len(envs)), o + np.asarray(actions)[envs].astype(np.int64)] = 1.0
        rows[:, o + a] = rewards[envs]
        rows[:, o + a + 1 : 2 * o + a + 1] = observations[envs]
        rows[:, -1] = 1.0
        probe = self.inputs.probe_steps
        if not probe:
            self.slots[envs, :-1] = self.slots[envs, 1:]
            self.slots[envs, -1] = rows
            return
        in_probe = self.filled[envs] < probe
        probing = envs[in_probe]
        self.slots[probing, self.filled[probing]] = rows[in_probe]
        self.filled[probing] += 1
        self.slots[envs[~in_probe], probe] = rows[~in_probe]

    def close(self) -> None:
        self.env.close()
