"""Task families: gymnasium environments, their task distributions and batched versions."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use, so that `envs.errors` and `envs.config` (which the CLI needs for
# every command) do not pull in gymnasium.
_EXPORTS = {
    "Config": "envs.config",
    "ConfigError": "envs.config",
    "bounded": "envs.config",
    "Task": "envs.family",
    "TaskFamily": "envs.family",
    "TASKS": "envs.registry",
    "get_task": "envs.registry",
}

__all__ = ["TASKS", "Config", "ConfigError", "Task", "TaskFamily", "bounded", "get_task"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'envs' has no attribute {name!r}")
