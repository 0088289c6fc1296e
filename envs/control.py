"""Contextual classic control in the style of CARL (Benjamin et al. 2022).

Each family scales physical constants of a gymnasium environment by context factors.
A factor of 1 is gymnasium's own value, so the default context reproduces the plain
environment exactly. Factors are fixed by the parameters, or resampled at every reset
from the split's range: the full range [context_low, context_high] is cut into a train
part and a test part (the top ``test_fraction`` of it) that never overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import utils as control_utils
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from envs.config import Config, ConfigError, bounded
from envs.family import Task, TaskFamily
from envs.population import BatchedMemberEnvs, reseed

SPLITS = ("train", "test", "all")


@dataclass
class ContextParams(Config):
    """Context options shared by every contextual family; subclasses add their factors."""

    resample: bool = False
    """Draw new factors from the split's range at every reset instead of the fixed ones."""
    split: str = "train"
    """Range to draw from when resampling: train, test or all."""
    context_low: float = bounded(0.2, 0.0, low_open=True)
    """Smallest factor of the full range."""
    context_high: float = bounded(2.2, 0.0, low_open=True)
    """Largest factor of the full range."""
    test_fraction: float = bounded(0.2, 0.0, 1.0, low_open=True, high_open=True)
    """Share of the range, at its top, held out as the test split."""
    visible_context: bool = False
    """Append the normalised factors to the observation."""

    factor_names: ClassVar[tuple[str, ...]] = ()

    def check(self) -> None:
        if self.split not in SPLITS:
            raise ConfigError(f"split={self.split!r} is not one of {', '.join(SPLITS)}")
        if self.context_low >= self.context_high:
            raise ConfigError(
                f"context range [{self.context_low}, {self.context_high}] is empty or inverted: "
                "context_low must be below context_high"
            )
        for name in self.factor_names:
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"{name}={value} must be a positive factor")

    def split_range(self, split: str | None = None) -> tuple[float, float]:
        """[low, high) of a split; train and test share only the cut point, taken by test."""
        low, high = self.context_low, self.context_high
        cut = high - self.test_fraction * (high - low)
        return {"train": (low, cut), "test": (cut, high), "all": (low, high)}[split or self.split]

    def fixed_context(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.factor_names}

    def normalise(self, factors: np.ndarray) -> np.ndarray:
        middle = (self.context_low + self.context_high) / 2
        half = (self.context_high - self.context_low) / 2
        return ((factors - middle) / half).astype(np.float32)


class ContextualFamily(TaskFamily):
    """A gymnasium env id, its context factors, and how each factor is applied."""

    env_id: ClassVar[str]
    make_kwargs: ClassVar[dict[str, Any]] = {}

    def sample(self, params: ContextParams, rng: np.random.Generator) -> Task:
        low, high = params.split_range()
        return {name: float(rng.uniform(low, high)) for name in params.factor_names}

    def apply(self, env: gym.Env, context: dict[str, float]) -> None:
        """Set the scaled constants on the unwrapped env (before its next reset)."""
        raise NotImplementedError

    def make_env(self, params: ContextParams) -> gym.Env:
        env = gym.make(self.env_id, **self.make_kwargs)
        return ContextWrapper(env, self, params)


class ContextWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Applies the fixed or resampled context at reset; optionally shows it in the obs."""

    def __init__(self, env: gym.Env, family: ContextualFamily, params: ContextParams) -> None:
        # Recorded so gymnasium can rebuild the env from its spec (as check_env does).
        gym.utils.RecordConstructorArgs.__init__(self, family=family, params=params)
        super().__init__(env)
        self.family, self.params = family, params
        self.context = params.fixed_context()
        family.apply(env.unwrapped, self.context)
        if params.visible_context:
            inner = env.observation_space
            size = len(params.factor_names)
            self.observation_space = gym.spaces.Box(
                np.concatenate([inner.low, np.full(size, -np.inf)]).astype(np.float32),
                np.concatenate([inner.high, np.full(size, np.inf)]).astype(np.float32),
                dtype=np.float32,
            )

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        if not self.params.visible_context:
            return obs
        factors = np.array(list(self.context.values()))
        return np.concatenate([obs, self.params.normalise(factors)]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if self.params.resample:
            if seed is not None:
                self._context_rng = np.random.default_rng(seed)
            elif not hasattr(self, "_context_rng"):
                self._context_rng = np.random.default_rng()
            self.context = self.family.sample(self.params, self._context_rng)
            self.family.apply(self.env.unwrapped, self.context)
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observe(obs), info | {"context": dict(self.context)}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(obs), reward, terminated, truncated, info


# --- the families -----------------------------------------------------------------------
@dataclass
class CartPoleParams(ContextParams):
    gravity: float = 1.0
    """Gravity as a factor of 9.8."""
    length: float = 1.0
    """Pole length as a factor of 0.5 (half the pole)."""
    tau: float = 1.0
    """Time step as a factor of 0.02 s."""
    factor_names: ClassVar[tuple[str, ...]] = ("gravity", "length", "tau")


class CartPoleFamily(ContextualFamily):
    name = "cartpole"
    summary = "CartPole-v1 with gravity, pole length and time step scaled by context factors."
    Params = CartPoleParams
    env_id = "CartPole-v1"

    def apply(self, env: Any, context: dict[str, Any]) -> None:
        env.gravity = 9.8 * context["gravity"]
        env.length = 0.5 * context["length"]
        env.polemass_length = env.masspole * env.length
        env.tau = 0.02 * context["tau"]

    def make_vector_env(self, params: CartPoleParams, num_envs: int) -> gym.vector.VectorEnv:
        return ContextualCartPoleVector(self, params, num_envs)

    def make_member_envs(
        self, params: CartPoleParams, num_envs: int, members: int
    ) -> BatchedMemberEnvs:
        return BatchedMemberEnvs(ContextualCartPoleVector(self, params, num_envs, members))


class ContextualCartPoleVector(CartPoleVectorEnv):
    """gymnasium's NumPy CartPole over many envs, with one context per env (arrays), in
    ``members`` blocks (envs/population.py).

    A lone env is one block. Each block has its own generator, seeded as gymnasium seeds
    its one, and draws from it what gymnasium's env of one block would draw, in the same
    order: at reset the initial states then (resampling) the factors; at a step the new
    factors of the envs restarting, then their initial states. So a block of a population
    computes what the lone env with its seed computes, and the lone env what gymnasium's
    does (tests/test_envs.py, tests/test_member_envs.py).
    """

    def __init__(
        self, family: CartPoleFamily, params: CartPoleParams, num_envs: int, members: int = 1
    ) -> None:
        super().__init__(num_envs=num_envs * members)
        self.family, self.params = family, params
        self.members, self.envs_per_member = members, num_envs
        self.generators: list[np.random.Generator] = []
        self.factors = {
            name: np.full(self.num_envs, value) for name, value in params.fixed_context().items()
        }
        self._apply()
        if params.visible_context:
            size = len(params.factor_names)
            inner = self.single_observation_space
            self.single_observation_space = gym.spaces.Box(
                np.concatenate([inner.low, np.full(size, -np.inf)]).astype(np.float32),
                np.concatenate([inner.high, np.full(size, np.inf)]).astype(np.float32),
                dtype=np.float32,
            )
            self.observation_space = gym.vector.utils.batch_space(
                self.single_observation_space, self.num_envs
            )

    def _apply(self) -> None:
        self.family.apply(self, self.factors)

    def _draw(self, mask: np.ndarray, rows: int, low: float, high: float) -> np.ndarray:
        """``uniform(low, high, (rows, k))`` for the k envs in ``mask``, each block's
        columns from its own generator (a block with none draws nothing, as gymnasium's
        draw of size 0 does not advance its generator)."""
        counts = mask.reshape(self.members, self.envs_per_member).sum(axis=1)
        draws = [
            generator.uniform(low, high, (rows, count))
            for generator, count in zip(self.generators, counts, strict=True)
            if count
        ]
        return np.concatenate(draws, axis=1) if draws else np.zeros((rows, 0))

    def _resample(self, mask: np.ndarray) -> None:
        # One (factors, k) draw is the lone env's draws of k per factor, one after another.
        names = self.params.factor_names
        draws = self._draw(mask, len(names), *self.params.split_range())
        for name, values in zip(names, draws, strict=True):
            self.factors[name][mask] = values
        self._apply()

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        if not self.params.visible_context:
            return obs
        factors = np.stack([self.factors[n] for n in self.params.factor_names], axis=1)
        return np.concatenate([obs, self.params.normalise(factors)], axis=1)

    def reset_members(self, seeds: Sequence[int | None], options: dict | None = None):
        """Reset block m with ``seeds[m]``, as ``reset(seed=seeds[m])`` resets a lone env."""
        self.generators = reseed(self.generators, seeds)
        self.low, self.high = control_utils.maybe_parse_reset_bounds(options, -0.05, 0.05)
        every = np.ones(self.num_envs, dtype=bool)
        self.state = self._draw(every, 4, self.low, self.high)
        self.steps_beyond_terminated = None
        self.steps = np.zeros(self.num_envs, dtype=np.int32)
        self.prev_done = np.zeros(self.num_envs, dtype=np.bool_)
        if self.params.resample:
            self._resample(every)
        return self._observe(self.state.T.astype(np.float32)), {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return self.reset_members([seed], options)

    def step(self, action):
        restart = self.prev_done
        if not restart.any():
            obs, reward, terminated, truncated, info = super().step(action)
            return self._observe(obs), reward, terminated, truncated, info
        if self.params.resample:
            self._resample(restart)  # these envs restart in this step
        # gymnasium's step with nothing to restart, then its restart with each block's draws.
        self.prev_done = np.zeros_like(restart)
        _, reward, terminated, truncated, info = super().step(action)
        self.state[:, restart] = self._draw(restart, 4, self.low, self.high)
        self.steps[restart] = 0
        reward[restart] = 0.0
        terminated[restart] = False
        truncated[restart] = False
        self.prev_done = terminated | truncated
        return self._observe(self.state.T.astype(np.float32)), reward, terminated, truncated, info


@dataclass
class MountainCarParams(ContextParams):
    gravity: float = 1.0
    """Gravity as a factor of 0.0025."""
    factor_names: ClassVar[tuple[str, ...]] = ("gravity",)


class MountainCarFamily(ContextualFamily):
    name = "mountaincar"
    summary = "MountainCar-v0 with gravity scaled by a context factor."
    Params = MountainCarParams
    env_id = "MountainCar-v0"

    def apply(self, env: Any, context: dict[str, Any]) -> None:
        env.gravity = 0.0025 * context["gravity"]


@dataclass
class PendulumParams(ContextParams):
    length: float = 1.0
    """Pole length as a factor of 1 m."""
    factor_names: ClassVar[tuple[str, ...]] = ("length",)


class PendulumFamily(ContextualFamily):
    name = "pendulum"
    summary = "Pendulum-v1 (continuous torque) with the pole length scaled by a context factor."
    Params = PendulumParams
    env_id = "Pendulum-v1"

    def apply(self, env: Any, context: dict[str, Any]) -> None:
        env.l = 1.0 * context["length"]


@dataclass
class LunarLanderParams(ContextParams):
    gravity: float = 1.0
    """Gravity as a factor of -10 (gymnasium allows factors in (0, 1.2))."""
    context_high: float = bounded(1.15, 0.0, 1.2, low_open=True, high_open=True)
    """Largest factor of the full range (gymnasium's LunarLander needs gravity above -12)."""
    factor_names: ClassVar[tuple[str, ...]] = ("gravity",)

    def check(self) -> None:
        super().check()
        if self.gravity >= 1.2:
            raise ConfigError(f"gravity={self.gravity} must be below 1.2 (gravity above -12)")


class LunarLanderFamily(ContextualFamily):
    name = "lunarlander"
    summary = "LunarLander-v3 (discrete) with gravity scaled by a context factor."
    Params = LunarLanderParams
    env_id = "LunarLander-v3"

    def apply(self, env: Any, context: dict[str, Any]) -> None:
        env.gravity = -10.0 * context["gravity"]  # the world is rebuilt from it at reset


CONTEXTUAL_FAMILIES: list[ContextualFamily] = [
    CartPoleFamily(),
    MountainCarFamily(),
    PendulumFamily(),
    LunarLanderFamily(),
]
