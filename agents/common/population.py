"""Populations: P lifetimes of one agent on one task trained as one batched computation,
and the lone agent as a population of one.

A population's members share the task, the step budget, the loop's structure and every
config field that sets a shape (``check_members``); each has its own seed and its own
values of the fields declared ``per_member`` (envs/config.py ``bounded``). Members advance
in lockstep: one iteration of ``learn`` steps every member's environments once and
yields one ``PopulationReport`` with one dict of scalars per member.

Member m of a population computes what a population of one with m's seed and config
computes (tests/test_population.py checks it to 1e-5 for every batched agent), and a
member's checkpoint is that population of one's: ``member_state(m)`` loads into any
population of that agent, at any index, and is what the lone agent saves.

Populations do no I/O; the workbench turns each member into its own run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from agents.common.base import Report
from envs.config import Config, ConfigError, fields
from envs.registry import TaskFamily


class PopulationReport(NamedTuple):
    """One iteration's scalars, one dict per member (empty: nothing to log); or a tick
    (``Report.tick``: a point inside a long update where the caller may stop)."""

    step: int
    scalars: list[dict[str, float]]
    tick: bool = False


class Population(Protocol):
    """What the workbench drives: ``learn`` for all members, checkpoints per member."""

    configs: list[Config]
    seeds: list[int]
    steps_done: int

    def __init__(
        self,
        configs: Sequence[Config],
        task: TaskFamily,
        task_params: Config,
        seeds: Sequence[int],
        device: str = "cpu",
    ) -> None: ...

    def learn(
        self, total_steps: int, *, tick_seconds: float | None = None
    ) -> Iterator[PopulationReport]: ...

    def evaluate(self, episodes: int) -> np.ndarray:
        """Greedy returns ``[P, episodes]``, each member on its own evaluation seeds."""
        ...

    def member_state(self, member: int) -> dict[str, Any]: ...

    def load_member_state(self, member: int, state: dict[str, Any]) -> None: ...

    def member_weights(self, member: int) -> dict[str, Any]: ...

    def load_member_weights(self, member: int, state: dict[str, Any]) -> None: ...


def shared_fields(config_cls: type[Config]) -> list[str]:
    """The fields every member of a population must share (not ``per_member``)."""
    return [info.name for info in fields(config_cls) if not info.per_member]


def check_members(configs: Sequence[Config], seeds: Sequence[int] | None = None) -> None:
    """Refuse a population whose members differ in a shared field, naming the field (and
    one whose ``seeds``, when given, are not one per member)."""
    if not configs:
        raise ConfigError("a population needs at least one member")
    if seeds is not None and len(seeds) != len(configs):
        raise ValueError(f"{len(configs)} configs for {len(seeds)} seeds")
    first = configs[0]
    for name in shared_fields(type(first)):
        values = sorted({repr(getattr(config, name)) for config in configs})
        if len(values) > 1:
            raise ConfigError(
                f"{name} differs across the members ({', '.join(values)}): it sets a "
                "network's shape or the loop's structure, so a population shares it; "
                "train one population per value"
            )


def select(
    population: Population,
    members: Sequence[int],
    task: TaskFamily,
    task_params: Config,
    device: str = "cpu",
) -> Population:
    """A new population of only ``members`` (indices into ``population``), each continuing
    from its state; they start fresh episodes, as after a resume."""
    kept = type(population)(
        [population.configs[m] for m in members],
        task,
        task_params,
        [population.seeds[m] for m in members],
        device,
    )
    for index, member in enumerate(members):
        kept.load_member_state(index, population.member_state(member))
    return kept


class Lone:
    """The single-run ``Agent`` protocol (agents/common/base.py) over a population of one:
    what ``workbench run`` without ``--seeds`` trains, and what every other view sees."""

    def __init__(self, population: Population) -> None:
        self.population = population
        self.config = population.configs[0]
        self.seed = population.seeds[0]

    @property
    def steps_done(self) -> int:
        return self.population.steps_done

    @steps_done.setter
    def steps_done(self, value: int) -> None:
        self.population.steps_done = value

    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        for report in self.population.learn(total_steps, tick_seconds=tick_seconds):
            yield Report(report.step, report.scalars[0], report.tick)

    def evaluate(self, episodes: int) -> np.ndarray:
        return self.population.evaluate(episodes)[0]

    def state_dict(self) -> dict[str, Any]:
        return self.population.member_state(0)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.population.load_member_state(0, state)

    def weights(self) -> dict[str, Any]:
        return self.population.member_weights(0)

    def load_weights(self, state: dict[str, Any]) -> None:
        self.population.load_member_weights(0, state)


def lone(population_class: type[Population]) -> Any:
    """The ``make(config, task, task_params, seed)`` of a batched agent: a population of one."""

    def make(
        config: Config, task: TaskFamily, task_params: Config, seed: int, device: str = "cpu"
    ) -> Lone:
        return Lone(population_class([config], task, task_params, [seed], device))

    make.__name__ = population_class.__name__
    make.__doc__ = population_class.__doc__
    return make


def greedy_member_returns(
    task: TaskFamily,
    task_params: Config,
    seeds: Sequence[int],
    episodes: int,
    act: Callable[[np.ndarray], np.ndarray],
    wrap: Callable[[Any], Any] | None = None,
) -> np.ndarray:
    """Return ``[P, episodes]``: ``episodes`` greedy episodes per member, all members'
    envs stepped together, member m's envs reset with ``seeds[m]``. ``act`` maps the
    observations ``[P * episodes, ...]`` (of the env ``wrap`` makes of them, when given)
    to actions; steps after a copy's episode ended are not counted (NEXT_STEP autoreset)."""
    members = len(seeds)
    env = task.make_member_envs(task_params, episodes, members)
    env = wrap(env) if wrap is not None else env
    observations, _ = env.reset(list(seeds))
    return play_out(env, observations, act).reshape(members, episodes)


def play_out(env: Any, observations: np.ndarray, act: Callable[[np.ndarray], np.ndarray]):
    """The return of one episode of every env of a vector env just reset (its first
    ``observations``), played by ``act``; steps after an env's episode ended are not
    counted (NEXT_STEP autoreset). Closes the env."""
    returns = np.zeros(env.num_envs)
    running = np.ones(env.num_envs, dtype=bool)
    while running.any():
        observations, rewards, terminated, truncated, _ = env.step(act(observations))
        returns += rewards * running
        running &= ~(terminated | truncated)
    env.close()
    return returns
