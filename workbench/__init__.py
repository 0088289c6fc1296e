"""The Meta-RL Workbench application: CLI, TUI, run store and background runner.

Importing it hands the registries below (``envs.plugins``) the loaders of plug-in agents
and tasks in ``workbench/plugins.py``, so every process of ours finds them: the CLI, the
TUI, background workers and study workers. The loaders are imported on first use: this
package's import stays as light as the console script's Ctrl+C handling needs."""

from typing import Any

from envs.plugins import add_loaders


def _load_agent(name: str) -> Any:
    from workbench.plugins import load_agent

    return load_agent(name)


def _load_task(name: str) -> Any:
    from workbench.plugins import load_task

    return load_task(name)


add_loaders(agents=_load_agent, tasks=_load_task)
