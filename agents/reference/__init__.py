"""Reference policies: yardsticks that act without learning across tasks.

Each is evaluated on many sampled tasks at once through a family's batched version, so
every result table can put learned agents beside random, greedy, UCB1, Thompson sampling,
Gittins, Bayes-optimal, PSRL and value iteration on the same tasks.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.base import ci95
from agents.reference import bandits, gridworld, mdp, scavenger
from agents.reference.bayes_optimal import BayesOptimalPolicy, NotApplicable, TooLarge, exact_value
from envs.bandits import BanditFamily
from envs.config import Config, NoConfig
from envs.family import TaskFamily
from envs.gridworld import GridworldFamily
from envs.scavenger import ScavengerFamily
from envs.tabular import TabularMDPFamily


@dataclass(frozen=True)
class ReferencePolicy:
    name: str
    summary: str
    kind: str
    """"bandit", "mdp", "gridworld" or "scavenger": the families it acts on."""
    make: Callable[..., Any] | None
    """The policy class; None for a policy reported by its exact value."""

    @property
    def config(self) -> type[Config]:
        """The policy's constants: its class's ``Config``."""
        return self.make.Config if self.make is not None else NoConfig


def _bandit(name: str, summary: str, make: Callable[..., Any] | None) -> ReferencePolicy:
    return ReferencePolicy(name, summary, "bandit", make)


def _mdp(name: str, summary: str, make: Callable[..., Any]) -> ReferencePolicy:
    return ReferencePolicy(name, summary, "mdp", make)


BANDIT = [
    _bandit("random", "Uniformly random arm.", bandits.RandomPolicy),
    _bandit("greedy", "Highest posterior mean, ties broken at random.", bandits.GreedyPolicy),
    _bandit(
        "eps-greedy", "Greedy, or a random arm with probability epsilon.", bandits.EpsGreedyPolicy
    ),
    _bandit("ucb1", "Upper confidence bound (Auer et al. 2002).", bandits.UCB1Policy),
    _bandit("thompson", "Thompson sampling from Beta posteriors.", bandits.ThompsonPolicy),
    _bandit("gittins", "Highest Gittins index of the Beta posterior.", bandits.GittinsPolicy),
    _bandit("bayes-optimal", "Exact Bayes-optimal value by dynamic programming.", None),
]
MDP = [
    _mdp("random", "Uniformly random action.", mdp.RandomMDPPolicy),
    _mdp("greedy", "Plans each episode on the posterior-mean model.", mdp.GreedyMDPPolicy),
    _mdp(
        "eps-greedy",
        "Greedy planning, random action with probability epsilon.",
        mdp.EpsGreedyMDPPolicy,
    ),
    _mdp("psrl", "Posterior sampling RL (Osband et al. 2013).", mdp.PSRLPolicy),
    _mdp("value-iteration", "Plans on the true MDP: an upper bound.", mdp.ValueIterationPolicy),
]


SCAVENGER = [
    ReferencePolicy("random", "Uniformly random move.", "scavenger", scavenger.RandomScavenger),
    ReferencePolicy(
        "nearest-object", "Walks to the nearest object.", "scavenger", scavenger.NearestObject
    ),
    ReferencePolicy(
        "nearest-positive",
        "Nearest object of a positively weighted type (linear reward).",
        "scavenger",
        scavenger.NearestPositive,
    ),
    ReferencePolicy(
        "balance-aware",
        "Nearest object of a currently most abundant type (balanced reward).",
        "scavenger",
        scavenger.BalanceAware,
    ),
]


GRIDWORLD = [
    ReferencePolicy(
        "known-goal",
        "Straight to the goal it is told: an upper bound.",
        "gridworld",
        gridworld.KnownGoal,
    ),
    ReferencePolicy(
        "systematic-search",
        "Nearest unvisited goal cell first, then straight to the goal once found.",
        "gridworld",
        gridworld.SystematicSearch,
    ),
]


def policies_for(family: TaskFamily) -> list[ReferencePolicy]:
    if isinstance(family, BanditFamily):
        return BANDIT
    if isinstance(family, TabularMDPFamily):
        return MDP
    if isinstance(family, ScavengerFamily):
        return SCAVENGER
    if isinstance(family, GridworldFamily):
        return GRIDWORLD
    return []


@dataclass
class Evaluation:
    """Mean total reward per meta-episode over sampled tasks, with a 95% interval."""

    policy: str
    mean: float
    ci95: float
    exact: bool
    params: dict[str, Any]
    tasks: int
    per_trial: list[float] | None = None
    """Mean reward of each trial (episode or pull) of the meta-episode; None when exact."""
    totals: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    """Total reward on each task, in the order sampled (for paired comparisons); not in
    the JSON form."""

    def to_json(self) -> dict[str, Any]:
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name != "totals"
        }


def evaluate(
    family: TaskFamily, params: Config, spec: ReferencePolicy, config: Config, tasks: int, seed: int
) -> Evaluation:
    """Play ``tasks`` sampled meta-episodes with one reference policy.

    Raises NotApplicable or TooLarge when an exact policy cannot be computed here.
    """
    rng = np.random.default_rng(seed)
    if spec.make is None:
        return Evaluation(
            spec.name, exact_value(family, params), 0.0, True, config.to_dict(), tasks
        )
    if spec.kind == "bandit":
        per_trial = play_bandit(
            family,
            params,
            functools.partial(spec.make, config, family.arms(params), family.trials(params)),
            tasks,
            rng,
        )
    elif spec.kind == "scavenger":
        try:
            policy = spec.make(config, params)
        except scavenger.NotForThisReward as err:
            message = f"{spec.name} is {err}; this task has reward={params.reward}"
            raise NotApplicable(message) from None
        per_trial = scavenger.play_scavenger(params, policy, tasks, rng)
    elif spec.kind == "gridworld":
        make = functools.partial(spec.make, config, params)
        per_trial = gridworld.play_gridworld(params, make, tasks, rng)
    else:
        per_trial = play_mdp(params, functools.partial(spec.make, config, params), tasks, rng)
    totals = per_trial.sum(0)
    return Evaluation(
        spec.name,
        float(totals.mean()),
        ci95(totals),
        False,
        config.to_dict(),
        tasks,
        per_trial.mean(1).tolist(),
        totals,
    )


def play_bandit(family, params, make_policy, tasks: int, rng: np.random.Generator) -> np.ndarray:
    """Reward of every pull of one meta-episode per task, shape (pulls, tasks);
    ``make_policy(tasks, rng)`` builds the policy."""
    batch = family.batch(params, tasks)
    batch.sample_tasks(rng)
    policy = make_policy(tasks, rng)
    per_trial = np.zeros((family.trials(params), tasks))
    for trial in range(len(per_trial)):
        actions = policy.act()
        _, rewards = batch.step(actions, rng)
        policy.update(actions, rewards)
        per_trial[trial] = rewards
    return per_trial


def play_mdp(params, make_policy, tasks: int, rng: np.random.Generator) -> np.ndarray:
    """Reward of every episode of one meta-episode per task, shape (episodes, tasks)."""
    batch = TabularMDPFamily().batch(params, tasks)
    batch.sample_tasks(rng)
    policy = make_policy(batch, rng)
    per_trial = np.zeros((params.episodes, tasks))
    for episode in range(params.episodes):
        states = batch.reset_trial(rng).argmax(axis=1)
        policy.plan_episode()
        for step in range(params.episode_length):
            actions = policy.act(states, step)
            observations, rewards = batch.step(actions, rng)
            next_states = observations.argmax(axis=1)
            policy.observe(states, actions, rewards, next_states)
            per_trial[episode] += rewards
            states = next_states
    return per_trial


__all__ = [
    "BayesOptimalPolicy",
    "Evaluation",
    "NotApplicable",
    "ReferencePolicy",
    "TooLarge",
    "evaluate",
    "policies_for",
    "play_bandit",
    "play_mdp",
]
