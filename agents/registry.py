"""The registry of agents by name: their config class, constructor and supported tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents.base import Agent
from agents.dqn import DQN, DQNConfig
from envs.config import Config, ConfigError, suggest
from envs.registry import TaskFamily


@dataclass(frozen=True)
class AgentSpec:
    """What the workbench needs to offer an agent: name, config, constructor, tasks."""

    name: str
    summary: str
    config: type[Config]
    make: Callable[[Config, TaskFamily, Config, int], Agent]
    """``make(config, task_family, task_params, seed)``."""
    tasks: tuple[str, ...]

    def check_task(self, task: str) -> None:
        if task not in self.tasks:
            raise ConfigError(
                f"agent {self.name!r} does not support task {task!r}; "
                f"it supports: {', '.join(self.tasks)}"
            )


AGENTS: dict[str, AgentSpec] = {
    spec.name: spec
    for spec in [
        AgentSpec(
            name="dqn",
            summary="Deep Q-Network with double-DQN targets, replay and a target network.",
            config=DQNConfig,
            make=DQN,
            tasks=("cartpole", "mountaincar", "lunarlander", "foraging"),
        ),
    ]
}


def get_agent(name: str) -> AgentSpec:
    """The agent called ``name``, or a ConfigError suggesting the closest names."""
    try:
        return AGENTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown agent {name!r}{suggest(name, AGENTS)}; `workbench agents` lists them"
        ) from None
