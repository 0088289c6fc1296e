"""Contextual classic control in the style of CARL (Benjamin et al. 2022).

Each family scales physical constants of a gymnasium environment by context factors.
A factor of 1 is gymnasium's own value, so the default context reproduces the plain
environment exactly. Factors are fixed by the parameters, or resampled at every reset
from a split of the range [context_low, context_high): the training region, or one of
the evaluation splits of Kirk et al. (envs/splits.py says which values each draws from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import utils as control_utils
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from envs.config import ConfigError, bounded
from envs.family import Task, TaskFamily
from envs.population import BatchedMemberEnvs, reseed
from envs.splits import ContextParams


class ContextualFamily(TaskFamily):
    """A gymnasium env id, its context factors, and how each factor is applied.

    ``solved_threshold``: the episode return at which a context counts as solved, where
    the benchmark has one (None elsewhere)."""

    env_id: ClassVar[str]
    make_kwargs: ClassVar[dict[str, Any]] = {}
    solved_threshold: ClassVar[float | None] = None

    def sample(self, params: ContextParams, rng: np.random.Generator) -> Task:
        """One context of the params' split: the varied factors drawn, the rest fixed."""
        drawn = params.draw(rng, 1)[:, 0]
        return params.fixed_context() | {
            name: float(value) for name, value in zip(params.varied_factors, drawn, strict=True)
        }

    def make_context_envs(
        self, params: ContextParams, contexts: np.ndarray
    ) -> gym.vector.VectorEnv:
        """A vector env of one env per row of ``contexts`` ``[n, factors]``, each held at
        its context (no resampling): what an evaluation on a split's contexts plays."""
        fixed = params.replace(resample=False)
        return gym.vector.SyncVectorEnv(
            [
                lambda row=row: self.make_env(
                    fixed.replace(**dict(zip(params.factor_names, map(float, row), strict=True)))
                )
                for row in contexts
            ]
        )

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
    """CartPole with three factors. At the defaults ([0.2, 2.2), test_fraction 0.2,
    seen_fraction 0.5: low 0.2, lower_constraint 1.0, mid 1.8, high 2.2) the splits draw,
    for each varied factor (all three unless ``varied`` says fewer): train from [0.2, 1.8)
    with at least one factor below 1.0; interpolation likewise, new contexts; combinatorial
    from [1.0, 1.8) every factor; extrapolation-single one factor from [1.8, 2.2) and the
    others from [0.2, 1.8); extrapolation-all (and test) every factor from [1.8, 2.2);
    all from [0.2, 2.2). A context is solved at a return of 195 (CARL's threshold)."""

    name = "cartpole"
    summary = "CartPole-v1 with gravity, pole length and time step scaled by context factors."
    Params = CartPoleParams
    env_id = "CartPole-v1"
    solved_threshold = 195.0

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

    def make_context_envs(self, params: CartPoleParams, contexts: np.ndarray):
        env = ContextualCartPoleVector(self, params.replace(resample=False), len(contexts))
        for column, name in enumerate(params.factor_names):
            env.factors[name] = np.asarray(contexts[:, column], dtype=float)
        env._apply()
        return env


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
        # Each block's draw [varied factors, its k restarting envs] from its own generator;
        # for a box split one (factors, k) draw: k per factor, one after another.
        counts = mask.reshape(self.members, self.envs_per_member).sum(axis=1)
        blocks = [
            self.params.draw(generator, int(count))
            for generator, count in zip(self.generators, counts, strict=True)
            if count
        ]
        draws = np.concatenate(blocks, axis=1)
        for name, values in zip(self.params.varied_factors, draws, strict=True):
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
        if not restart.any():  # gymnasium's step, whose restart draw is then of size 0
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
    """MountainCar with one factor, gravity. At the defaults (low 0.2, mid 1.8, high 2.2)
    train and interpolation draw from [0.2, 1.8), extrapolation-all (and test) from
    [1.8, 2.2), all from [0.2, 2.2); combinatorial and extrapolation-single need two
    factors. Solved at -110 (gymnasium's reward threshold of MountainCar-v0)."""

    name = "mountaincar"
    summary = "MountainCar-v0 with gravity scaled by a context factor."
    Params = MountainCarParams
    env_id = "MountainCar-v0"
    solved_threshold = -110.0

    def apply(self, env: Any, context: dict[str, Any]) -> None:
        env.gravity = 0.0025 * context["gravity"]


@dataclass
class PendulumParams(ContextParams):
    length: float = 1.0
    """Pole length as a factor of 1 m."""
    factor_names: ClassVar[tuple[str, ...]] = ("length",)


class PendulumFamily(ContextualFamily):
    """Pendulum with one factor, the pole length; its splits as MountainCar's (train and
    interpolation [0.2, 1.8), extrapolation-all [1.8, 2.2) at the defaults). No solved
    threshold (gymnasium registers none for Pendulum-v1)."""

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
    """LunarLander with one factor, gravity, in [0.2, 1.15) by default (mid 0.96): train
    and interpolation from [0.2, 0.96), extrapolation-all (and test) from [0.96, 1.15).
    Solved at 200 (gymnasium's reward threshold of LunarLander-v3)."""

    name = "lunarlander"
    summary = "LunarLander-v3 (discrete) with gravity scaled by a context factor."
    Params = LunarLanderParams
    env_id = "LunarLander-v3"
    solved_threshold = 200.0

    def apply(self, env: Any, context: dict[str, Any]) -> None:
        env.gravity = -10.0 * context["gravity"]  # the world is rebuilt from it at reset


CONTEXTUAL_FAMILIES: list[ContextualFamily] = [
    CartPoleFamily(),
    MountainCarFamily(),
    PendulumFamily(),
    LunarLanderFamily(),
]
