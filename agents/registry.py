"""The registry of agents by name: their config class, constructor and supported tasks;
plug-in agents (``agents.plugin``) are found through the loaders in ``envs.plugins``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents.a2c import A2C, A2CConfig
from agents.c_maml import CMAML, CMAMLConfig
from agents.common.base import Agent
from agents.common.context_modes import check_context_task
from agents.common.population import lone
from agents.common.task_weights import check_run
from agents.ddpg import DDPG, DDPGConfig
from agents.dqn import DQN, DQNConfig
from agents.er import ER, ERConfig
from agents.l2rl import L2RL, L2RLConfig
from agents.la_maml import LaMAML, LaMAMLConfig
from agents.meta_dqn import MetaDQN, MetaDQNConfig
from agents.mg_a2c import MetaGradientA2C, MetaGradientA2CConfig
from agents.online_sgd import OnlineSGD, OnlineSGDConfig
from agents.ppo import PPO, PPOConfig
from agents.rl2 import RL2, RL2Config
from agents.sac import SAC, SACConfig
from agents.sf_gpi import SFGPI, SFGPIConfig
from agents.snail import SNAIL, SNAILConfig
from agents.sync import Sync, SyncConfig
from agents.varibad import VariBAD, VariBADConfig
from agents.varibad import check_run as check_varibad_run
from envs.config import Config, ConfigError, suggest
from envs.gym_family import GYM_PREFIX
from envs.plugins import AGENT_LOADERS, load
from envs.registry import TaskFamily, get_task


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

    actions: tuple[str, ...] = ()
    """The kinds of action space (``envs.gym_family.action_kind``: discrete, box) with which
    the agent trains on any gymnasium environment, a ``gym:ID`` task; () for none."""
    source_file: str | None = None
    """A plug-in's source file (the one defining its class); None for a built-in."""
    source_sha256: str | None = None
    """SHA-256 of that file when the plug-in was loaded, recorded with each of its runs."""

    def check_settings(self, config: Config, task_params: Config, steps: int) -> None:
        if self.check_run is not None:
            self.check_run(config, task_params, steps)

    def check_task(self, task: str) -> None:
        if task.startswith(GYM_PREFIX) and task not in self.tasks:
            family = get_task(task)
            kind = getattr(family, "action_kind", None)
            if not self.actions:
                raise ConfigError(
                    f"agent {self.name!r} does not train on gymnasium environments; "
                    f"it supports: {', '.join(self.tasks)}"
                )
            if kind not in self.actions:
                takers = [spec.name for spec in AGENTS.values() if kind in spec.actions]
                instead = (
                    f"agents for {kind} actions: {', '.join(takers)}"
                    if takers
                    else f"no built-in agent takes them; a plug-in with actions = ({kind!r},) can "
                    "(docs/plugins.md)"
                )
                raise ConfigError(
                    f"agent {self.name!r} takes {' or '.join(self.actions)} actions and "
                    f"{task} has {kind} actions ({family.action_space}); {instead}"
                )
            return
        if task not in self.tasks:
            raise ConfigError(
                f"agent {self.name!r} does not support task {task!r}; "
                f"it supports: {', '.join(self.tasks)}"
            )


CONTROL_TASKS = ("cartpole", "mountaincar", "lunarlander", "foraging", "chain", "scavenger")
"""Families with discrete actions and plain episodes, for the single-task agents."""

CONTINUOUS_TASKS = ("pendulum",)
"""Families with continuous (Box) actions, for sac and ddpg."""

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

CONTINUAL_TASKS = ("digits-permuted", "digits-rotated")
"""Streams of classification tasks (envs/continual.py), which the continual learners
learn in one pass; their main metric is the retained accuracy over the tasks seen."""
RETAINED = "eval/retained_accuracy"

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
            actions=("discrete",),
            check_run=check_context_task,
        ),
        AgentSpec(
            name="meta-dqn",
            summary="DQN whose discount is learned online by meta-gradients (Xu et al. 2018).",
            config=MetaDQNConfig,
            make=lone(MetaDQN),
            population=MetaDQN,
            tasks=CONTROL_TASKS,
            actions=("discrete",),
        ),
        AgentSpec(
            name="a2c",
            summary="Synchronous advantage actor-critic, n-step returns (Mnih et al. 2016).",
            config=A2CConfig,
            make=lone(A2C),
            population=A2C,
            tasks=CONTROL_TASKS,
            actions=("discrete",),
        ),
        AgentSpec(
            name="mg-a2c",
            summary="Meta-gradient A2C: the discount is learned online (Xu et al. 2018).",
            config=MetaGradientA2CConfig,
            make=lone(MetaGradientA2C),
            population=MetaGradientA2C,
            tasks=CONTROL_TASKS,
            actions=("discrete",),
        ),
        AgentSpec(
            name="ppo",
            summary="PPO with GAE, feed-forward actor-critic (Schulman et al. 2017).",
            config=PPOConfig,
            make=lone(PPO),
            population=PPO,
            tasks=CONTROL_TASKS,
            actions=("discrete",),
        ),
        AgentSpec(
            name="sac",
            summary="Soft actor-critic, twin critics, tuned temperature (Haarnoja et al. 2018).",
            config=SACConfig,
            make=lone(SAC),
            population=SAC,
            tasks=CONTINUOUS_TASKS,
            actions=("box",),
            check_run=check_context_task,
        ),
        AgentSpec(
            name="ddpg",
            summary="DDPG: deterministic actor, Gaussian exploration (Lillicrap et al. 2016).",
            config=DDPGConfig,
            make=lone(DDPG),
            population=DDPG,
            tasks=CONTINUOUS_TASKS,
            actions=("box",),
            check_run=check_context_task,
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
            check_run=check_varibad_run,
        ),
        AgentSpec(
            name="online-sgd",
            summary="Continual: plain SGD on the stream, no memory (the forgetting floor).",
            config=OnlineSGDConfig,
            make=OnlineSGD,
            tasks=CONTINUAL_TASKS,
            main_metric=RETAINED,
        ),
        AgentSpec(
            name="er",
            summary="Continual: experience replay from a reservoir memory (Riemer et al. 2019).",
            config=ERConfig,
            make=ER,
            tasks=CONTINUAL_TASKS,
            main_metric=RETAINED,
        ),
        AgentSpec(
            name="c-maml",
            summary="Continual: look-ahead MAML, one fixed inner rate (Gupta et al. 2020).",
            config=CMAMLConfig,
            make=CMAML,
            tasks=CONTINUAL_TASKS,
            main_metric=RETAINED,
        ),
        AgentSpec(
            name="sync",
            summary="Continual: learned per-parameter rates, synchronous updates (La-MAML's).",
            config=SyncConfig,
            make=Sync,
            tasks=CONTINUAL_TASKS,
            main_metric=RETAINED,
        ),
        AgentSpec(
            name="la-maml",
            summary="Continual: La-MAML, learned rates gating async updates (Gupta et al. 2020).",
            config=LaMAMLConfig,
            make=LaMAML,
            tasks=CONTINUAL_TASKS,
            main_metric=RETAINED,
        ),
    ]
}


_LOADED: dict[str, AgentSpec] = {}
"""Plug-in agents loaded in this process, by the name they were asked for and the name
their runs record."""


def get_agent(name: str) -> AgentSpec:
    """The agent called ``name``: a built-in, else a plug-in (``path/file.py:Class``,
    ``package.module:Class`` or an entry point of ``workbench.agents``, through the loaders
    the application registered in ``envs.plugins``); else a ConfigError of one line."""
    if name in AGENTS:
        return AGENTS[name]
    if name in _LOADED:
        return _LOADED[name]
    found = load(AGENT_LOADERS, name)
    if found is None:
        raise ConfigError(
            f"unknown agent {name!r}{suggest(name, AGENTS)}; `workbench agents` lists them, "
            "and a plug-in is named path/file.py:Class or package.module:Class"
        )
    from agents.plugin import plugin_spec

    spec = plugin_spec(found)
    _LOADED[name] = _LOADED[found.name] = spec
    return spec
