"""Plug-in agents for the launch dialog, found off the UI thread: loading a user's file or
an installed package's entry point imports their code, which may take seconds."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PluginAgents:
    """The agents found: names the dialog offers, and one line per plug-in that failed."""

    names: list[str]
    problems: list[str] = field(default_factory=list)


def read_installed_agents() -> PluginAgents:
    """Every agent an installed package offers through the ``workbench.agents`` entry
    points, loaded (so the dialog's form is built without I/O)."""
    from agents.registry import get_agent
    from envs.errors import UserError
    from workbench.plugins import entry_point_names

    names, problems = [], []
    for entry in entry_point_names():
        try:
            names.append(get_agent(entry).name)
        except UserError as err:
            problems.append(str(err))
    return PluginAgents(names, problems)


def load_agent(spec: str) -> str:
    """Load the agent a typed spec names; its name as runs record it (a ConfigError of one
    line when it does not load or does not follow the protocol)."""
    from agents.registry import get_agent
    from envs.config import ConfigError

    if not spec.strip():
        raise ConfigError("type an agent spec: path/file.py:Class or package.module:Class")
    return get_agent(spec.strip()).name
