"""The registry of agents by name: their config class, constructor and supported tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents.base import Agent
from agents.dqn import DQN, DQNConfig
from agents.l2rl import L2RL, L2RLConfig
from agents.ppo import PPO, PPOConfig
from agents.rl2 import RL2, RL2Config
from agents.snail import SNAIL, SNAILConfig
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


META_TASKS = (
    "bandit",
    "bandit-independent",
    "bandit-dependent-uniform",
    "bandit-dependent-easy",
    "bandit-dependent-medium",
    "bandit-dependent-hard",
    "tabular-mdp",
)
"""Families with batched meta-episodes, which the meta-RL agents train on."""

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
        AgentSpec(
            name="ppo",
            summary="PPO with GAE, feed-forward actor-critic (Schulman et al. 2017).",
            config=PPOConfig,
            make=PPO,
            tasks=("cartpole", "mountaincar", "lunarlander", "foraging"),
        ),
        AgentSpec(
            name="rl2",
            summary="RL^2: GRU policy meta-trained with PPO across tasks (Duan et al. 2016).",
            config=RL2Config,
            make=RL2,
            tasks=META_TASKS,
        ),
        AgentSpec(
            name="l2rl",
            summary="A2C-LSTM of Learning to Reinforcement Learn (Wang et al. 2016).",
            config=L2RLConfig,
            make=L2RL,
            tasks=META_TASKS,
        ),
        AgentSpec(
            name="snail",
            summary="SNAIL: temporal convolutions and causal attention, PPO (Mishra et al. 2018).",
            config=SNAILConfig,
            make=SNAIL,
            tasks=META_TASKS,
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
