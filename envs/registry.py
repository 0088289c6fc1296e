"""The registry of task families by name."""

from __future__ import annotations

from envs.bandits import KArmedBandit, two_armed_families
from envs.chain import ChainFamily
from envs.config import ConfigError, suggest
from envs.control import CONTEXTUAL_FAMILIES
from envs.family import TaskFamily
from envs.foraging import ForagingFamily
from envs.gridworld import GridworldFamily
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
    ]
}


def get_task(name: str) -> TaskFamily:
    """The task family called ``name``, or a ConfigError suggesting the closest names."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(
            f"unknown task {name!r}{suggest(name, TASKS)}; `workbench tasks` lists them"
        ) from None
