"""Any gymnasium environment as a single-task family: ``gym:ID`` or ``gym:module:ID``.

A family named ``gym:Acrobot-v1`` has one task (the environment as registered) and no
parameters; ``gym:module:ID`` imports ``module`` first, so a package that registers its
environments on import (``gym:ale_py:ALE/Pong-v5``) works without an entry of ours. The
observation is flattened to a vector when it is not one already (a ``Discrete``
observation becomes its one-hot), since every agent of ours reads flat vectors. The
action space decides which agents apply: ``action_kind`` is ``discrete`` for
``Discrete`` actions, ``box`` for ``Box``, else the space's class name in lower case
(``AgentSpec.actions`` lists the kinds an agent takes).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from envs.config import ConfigError, NoConfig
from envs.family import Task, TaskFamily

GYM_PREFIX = "gym:"


@dataclass
class GymParams(NoConfig):
    """A gymnasium environment as registered: nothing to set."""


def action_kind(space: gym.Space) -> str:
    """``discrete``, ``box`` or the space's class name in lower case."""
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box):
        return "box"
    return type(space).__name__.lower()


class GymFamily(TaskFamily):
    """One registered gymnasium environment as a family of one task."""

    Params = GymParams

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]
        self.env_id = split_gym_name(name)[1]
        probe = self._make_raw()
        try:
            self.action_space = probe.action_space
            self.observation_space = probe.observation_space
        finally:
            probe.close()
        self.action_kind = action_kind(self.action_space)
        self.summary = (  # type: ignore[misc]
            f"gymnasium's {self.env_id}: {self.action_kind} actions {self.action_space}"
        )

    def _make_raw(self) -> gym.Env:
        return gym.make(self.env_id)

    def sample(self, params: NoConfig, rng: np.random.Generator) -> Task:
        return {}

    def make_env(self, params: NoConfig) -> gym.Env:
        env = self._make_raw()
        space = env.observation_space
        if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
            env = gym.wrappers.FlattenObservation(env)
        return env


def split_gym_name(name: str) -> tuple[str | None, str]:
    """(module to import or None, gymnasium id) of ``gym:ID`` or ``gym:module:ID``."""
    rest = name[len(GYM_PREFIX) :]
    module, _, env_id = rest.rpartition(":")
    return module or None, env_id


def gym_family(name: str) -> GymFamily:
    """The family of ``gym:ID`` (``gym:module:ID`` imports ``module`` first), or one
    ConfigError line: a module that does not import, an id gymnasium does not know (with
    the closest registered ids), an environment that fails to build."""
    module, env_id = split_gym_name(name)
    if not env_id:
        raise ConfigError(f"task {name!r} names no environment: give gym:ID, e.g. gym:Acrobot-v1")
    if module is not None:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(
                f"task {name!r}: cannot import module {module!r} ({err}); install it or "
                "check the name"
            ) from None
    if env_id not in gym.envs.registry:
        raise ConfigError(
            f"task {name!r}: gymnasium has no environment {env_id!r}"
            f'{close_ids(env_id)}; `python -c "import gymnasium; '
            'gymnasium.pprint_registry()"` lists them'
        )
    try:
        return GymFamily(name)
    except gym.error.Error as err:
        raise ConfigError(f"task {name!r} does not build: {first_line(err)}") from None
    except ImportError as err:  # an env whose extra (box2d, mujoco) is not installed
        raise ConfigError(f"task {name!r} needs a package not installed: {err}") from None


def close_ids(env_id: str) -> str:
    """' (did you mean X or Y?)' for the registered ids closest to ``env_id``, else ''."""
    found = difflib.get_close_matches(env_id, list(gym.envs.registry), n=3, cutoff=0.75)
    return f" (did you mean {' or '.join(found)}?)" if found else ""


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
