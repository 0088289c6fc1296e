"""Our task families registered with gymnasium under the ``MetaRL/`` namespace.

``gymnasium.make("MetaRL/Bandit-v0", arms=5, pulls=100)`` builds ``bandit``'s env with
those parameters (the family's ``Params`` fields as keyword arguments, checked as
``--task-set`` values are); ``gymnasium.make_vec("MetaRL/Chain-v0", 8)`` uses the
family's batched vector env where it has one (``vector_entry_point``), else gymnasium's
own vectorisation of the single env. The id is the family's name in CamelCase, version 0
(``bandit-dependent-easy`` -> ``MetaRL/BanditDependentEasy-v0``).

Gymnasium finds ids only once they are registered: importing ``envs.registry`` (every
agent and the workbench do) registers them, or name the module in the id,
``gymnasium.make("envs.gym_registration:MetaRL/Bandit-v0")``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envs.config import build
from envs.family import TaskFamily

NAMESPACE = "MetaRL"
VERSION = 0


def gym_id(family_name: str) -> str:
    """``MetaRL/BanditDependentEasy-v0`` for ``bandit-dependent-easy``."""
    camel = "".join(part[:1].upper() + part[1:] for part in family_name.split("-"))
    return f"{NAMESPACE}/{camel}-v{VERSION}"


def has_batched_vector(family: TaskFamily) -> bool:
    """Whether the family overrides ``make_vector_env`` with a batched form of its own."""
    return type(family).make_vector_env is not TaskFamily.make_vector_env


def has_env(family: TaskFamily) -> bool:
    """Whether the family has environments: a continual-learning family (envs/continual.py)
    is a stream of classification tasks, which gymnasium has no form for."""
    return not getattr(family, "continual", False)


def register_families(families: dict[str, TaskFamily]) -> list[str]:
    """Register every family with environments not registered yet; return all their ids."""
    ids = []
    for name, family in families.items():
        if not has_env(family):
            continue
        env_id = gym_id(name)
        ids.append(env_id)
        if env_id in gym.envs.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=_single(family),
            vector_entry_point=_vector(family) if has_batched_vector(family) else None,
            disable_env_checker=True,  # our envs pass it (tests); a make need not re-run it
        )
    return ids


def _single(family: TaskFamily) -> Any:
    def make_env(render_mode: str | None = None, **params: Any) -> gym.Env:
        if render_mode is not None:
            raise ValueError(f"{gym_id(family.name)} does not render (render_mode=None only)")
        return family.make_env(build(family.Params, params, owner=family.name))

    make_env.__name__ = f"make_{family.name.replace('-', '_')}"
    return make_env


def _vector(family: TaskFamily) -> Any:
    def make_vector_env(num_envs: int = 1, **params: Any) -> gym.vector.VectorEnv:
        return family.make_vector_env(build(family.Params, params, owner=family.name), num_envs)

    make_vector_env.__name__ = f"make_vector_{family.name.replace('-', '_')}"
    return make_vector_env


def _register_all() -> list[str]:
    from envs.registry import TASKS

    return register_families(TASKS)


IDS = _register_all()
"""Every ``MetaRL/`` id, registered when this module is imported."""
