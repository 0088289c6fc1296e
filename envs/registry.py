"""The registry of task families by name: the built-in ones, ``gym:ID`` for any gymnasium
environment, and plug-ins (``envs.plugins``: a file or module spec, an entry point of the
``workbench.tasks`` group)."""

from __future__ import annotations

from envs.bandits import KArmedBandit, two_armed_families
from envs.chain import ChainFamily
from envs.config import ConfigError, suggest
from envs.continual import CONTINUAL_FAMILIES
from envs.control import CONTEXTUAL_FAMILIES
from envs.family import TaskFamily
from envs.foraging import ForagingFamily
from envs.gridworld import GridworldFamily
from envs.gym_family import GYM_PREFIX, gym_family
from envs.plugins import TASK_LOADERS, load
from envs.scavenger import ScavengerFamily
from envs.tabular import TabularMDPFamily

TASKS: dict[str, TaskFamily] = {
    family.name: family
    for family in [
        KArmedBandit(),
        *two_armed_families(),
        TabularMDPFamily(),
        GridworldFamily(),
        *CONTEXTUAL_FAMILIES,
        ForagingFamily(),
        ChainFamily(),
        ScavengerFamily(),
        *CONTINUAL_FAMILIES,
    ]
}


_LOADED: dict[str, TaskFamily] = {}
"""Families found outside ``TASKS`` (gymnasium ids, plug-ins), built once per process."""


def get_task(name: str) -> TaskFamily:
    """The task family called ``name``, or a ConfigError of one line: an unknown name with
    the closest ones, or why a ``gym:`` id or a plug-in spec does not load."""
    if name in TASKS:
        return TASKS[name]
    if name in _LOADED:
        return _LOADED[name]
    if name.startswith(GYM_PREFIX):
        family: TaskFamily = gym_family(name)
    else:
        found = load(TASK_LOADERS, name)
        if found is None:
            raise ConfigError(
                f"unknown task {name!r}{suggest(name, TASKS)}; `workbench tasks` lists them, "
                "and gym:ID takes any gymnasium environment"
            )
        family = plugin_family(found.name, found.obj)
    _LOADED[name] = family
    return family


def plugin_family(name: str, obj: object) -> TaskFamily:
    """A plug-in's task family: a ``TaskFamily`` subclass (built with no arguments) or an
    instance, named ``name`` as runs record it; else a ConfigError of one line."""
    if isinstance(obj, type) and issubclass(obj, TaskFamily):
        try:
            obj = obj()
        except TypeError as err:
            raise ConfigError(f"task {name!r}: {obj.__name__}() failed: {err}") from None
    if not isinstance(obj, TaskFamily):
        raise ConfigError(
            f"task {name!r} is not a TaskFamily subclass (envs.family.TaskFamily); "
            "see docs/plugins.md"
        )
    obj.name = name  # type: ignore[misc]
    return obj


import envs.gym_registration  # noqa: E402,F401  (registers MetaRL/ ids; needs TASKS above)
