"""The registry of agents by name: their config class, constructor and supported tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents.a2c import A2C, A2CConfig
from agents.common.base import Agent
from agents.common.population import lone
from agents.common.task_weights import check_run
from agents.dqn import DQN, DQNConfig
from agents.l2rl import L2RL, L2RLConfig
from agents.meta_dqn import MetaDQN, MetaDQNConfig
from agents.mg_a2c import MetaGradientA2C, MetaGradientA2CConfig
from agents.ppo import PPO, PPOConfig
from agents.rl2 import RL2, RL2Config
from agents.sf_gpi import SFGPI, SFGPIConfig
from agents.snail import SNAIL, SNAILConfig
from agents.varibad import VariBAD, VariBADConfig
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
    population: type | None = None
    """The agent's batched form (agents/common/population.py) when it has one: many
    lifetimes trained as one computation; ``make`` is then a population of one."""
    main_metric: str = "eval/episode_return"
    """The metric that says how well a run of this agent does (plotted by every view that
    shows one curve per run, and what study values are read from)."""
    check_run: Callable[[Config, Config, int], None] | None = None
    """``check_run(config, task_params, steps)``: what a config cannot do on a task or
    with a budget (a ConfigError of one line), checked before a run or study is created."""

    def check_settings(self, config: Config, task_params: Config, steps: int) -> None:
        if self.check_run is not None:
            self.check_run(config, task_params, steps)

    def check_task(self, task: str) -> None:
        if task not in self.tasks:
            raise ConfigError(
                f"agent {self.name!r} does not support task {task!r}; "
                f"it supports: {', '.join(self.tasks)}"
            )


CONTROL_TASKS = ("cartpole", "mountaincar", "lunarlander", "foraging", "chain", "scavenger")
"""Families with discrete actions and plain episodes, for the single-task agents."""

META_TASKS = (
    "bandit",
    "bandit-independent",
    "bandit-dependent-uniform",
    "bandit-dependent-easy",
    "bandit-dependent-medium",
    "bandit-dependent-hard",
    "tabular-mdp",
    "gridworld",
)
"""Families with batched meta-episodes, which the meta-RL agents train on."""

AGENTS: dict[str, AgentSpec] = {
    spec.name: spec
    for spec in [
        AgentSpec(
            name="dqn",
            summary="Deep Q-Network with double-DQN targets, replay and a target network.",
            config=DQNConfig,
            make=lone(DQN),
            population=DQN,
            tasks=CONTROL_TASKS,
        ),
        AgentSpec(
            name="meta-dqn",
            summary="DQN whose discount is learned online by meta-gradients (Xu et al. 2018).",
            config=MetaDQNConfig,
            make=lone(MetaDQN),
            population=MetaDQN,
            tasks=CONTROL_TASKS,
        ),
        AgentSpec(
            name="a2c",
            summary="Synchronous advantage actor-critic, n-step returns (Mnih et al. 2016).",
            config=A2CConfig,
            make=lone(A2C),
            population=A2C,
            tasks=CONTROL_TASKS,
        ),
        AgentSpec(
            name="mg-a2c",
            summary="Meta-gradient A2C: the discount is learned online (Xu et al. 2018).",
            config=MetaGradientA2CConfig,
            make=lone(MetaGradientA2C),
            population=MetaGradientA2C,
            tasks=CONTROL_TASKS,
        ),
        AgentSpec(
            name="ppo",
            summary="PPO with GAE, feed-forward actor-critic (Schulman et al. 2017).",
            config=PPOConfig,
            make=lone(PPO),
            population=PPO,
            tasks=CONTROL_TASKS,
        ),
        AgentSpec(
            name="sf-gpi",
            summary="Successor features of base-task policies, GPE + GPI (Barreto et al. 2017).",
            config=SFGPIConfig,
            make=lone(SFGPI),
            population=SFGPI,
            tasks=("scavenger",),
            check_run=check_run,
        ),
        AgentSpec(
            name="rl2",
            summary="RL^2: GRU policy meta-trained with PPO across tasks (Duan et al. 2016).",
            config=RL2Config,
            make=RL2,
            tasks=META_TASKS,
            main_metric="eval/meta_episode_return",
        ),
        AgentSpec(
            name="l2rl",
            summary="A2C-LSTM of Learning to Reinforcement Learn (Wang et al. 2016).",
            config=L2RLConfig,
            make=L2RL,
            tasks=META_TASKS,
            main_metric="eval/meta_episode_return",
        ),
        AgentSpec(
            name="snail",
            summary="SNAIL: temporal convolutions and causal attention, PPO (Mishra et al. 2018).",
            config=SNAILConfig,
            make=SNAIL,
            tasks=META_TASKS,
            main_metric="eval/meta_episode_return",
        ),
        AgentSpec(
            name="varibad",
            summary="VariBAD: a posterior over a task latent feeds a PPO policy (Zintgraf 2020).",
            config=VariBADConfig,
            make=VariBAD,
            tasks=META_TASKS,
            main_metric="eval/meta_episode_return",
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
