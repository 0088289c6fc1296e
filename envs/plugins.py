"""Where the application hands the registries its loaders of plug-ins.

The registries (``agents.registry.get_agent``, ``envs.registry.get_task``) know the
built-in names; a name they do not know (``path/file.py:Class``, ``package.module:Class``,
an entry point's name) goes to the loaders registered here, in order. Loading a user's
file or reading installed packages' entry points is I/O, which belongs to the
application (``workbench.plugins`` registers its loaders when ``workbench`` is
imported), so this module only keeps the hooks and imports nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class Loaded(NamedTuple):
    """A plug-in a loader found: the name runs record it under (a file spec made
    absolute), the object (an agent class or a task family class), and the SHA-256 of the
    source file that defines it with that file's path (None for objects without one)."""

    name: str
    obj: Any
    source_file: str | None
    source_sha256: str | None


Loader = Callable[[str], Loaded | None]
"""``loader(name)``: the plug-in called ``name``, None when it is not one this loader
knows, or a ``ConfigError`` of one line when the name is a spec that does not load."""

AGENT_LOADERS: list[Loader] = []
TASK_LOADERS: list[Loader] = []


def add_loaders(*, agents: Loader, tasks: Loader) -> None:
    """Register an application's loaders once (a second call with the same ones is a no-op)."""
    if agents not in AGENT_LOADERS:
        AGENT_LOADERS.append(agents)
    if tasks not in TASK_LOADERS:
        TASK_LOADERS.append(tasks)


def load(loaders: list[Loader], name: str) -> Loaded | None:
    """What the first loader that knows ``name`` returns, or None."""
    for loader in loaders:
        found = loader(name)
        if found is not None:
            return found
    return None
