"""A trained single-task policy on the contexts of an evaluation split (envs/splits.py).

What ``workbench eval RUN --split NAME`` computes (and what a report over modes and
splits reuses): the greedy policy plays one or a few episodes on each of N contexts of a
split, each context held fixed; the summary is over contexts (the mean of each context's
episodes counts once), with the share of contexts solved where the family has a
threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.common.base import ci95
from agents.common.context_modes import context_task_params
from agents.common.population import play_out
from envs.config import ConfigError
from envs.control import ContextualFamily
from envs.splits import ContextParams

Act = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SplitResult:
    """Returns of a policy on a split: ``returns`` ``[contexts, episodes]`` and the
    contexts ``[contexts, factors]`` they were played on."""

    split: str
    factor_names: tuple[str, ...]
    contexts: np.ndarray
    returns: np.ndarray
    threshold: float | None

    @property
    def per_context(self) -> np.ndarray:
        return self.returns.mean(axis=1)

    @property
    def mean(self) -> float:
        return float(self.per_context.mean())

    @property
    def ci95(self) -> float:
        return ci95(self.per_context)

    @property
    def solved(self) -> float | None:
        """Share of contexts whose mean return reaches the threshold (None without one)."""
        if self.threshold is None:
            return None
        return float((self.per_context >= self.threshold).mean())

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "contexts": len(self.contexts),
            "episodes_per_context": int(self.returns.shape[1]),
            "mean": self.mean,
            "ci95": self.ci95,
            "solved_threshold": self.threshold,
            "solved": self.solved,
            "per_context": [
                dict(zip(self.factor_names, map(float, row), strict=True)) | {"return": float(r)}
                for row, r in zip(self.contexts, self.per_context, strict=True)
            ],
        }


def greedy_policy(agent: Any, name: str) -> Act:
    """The greedy action function of a single-task agent: a lone run is a population of
    one (agents/common/population.py) whose ``greedy_actions`` takes any number of
    observations."""
    population = getattr(agent, "population", agent)  # a Lone, or a population itself
    act = getattr(population, "greedy_actions", None)
    if act is None:
        raise ConfigError(f"agent {name} has no greedy policy to evaluate on contexts")
    return act


def agent_envs(agent: Any, family: ContextualFamily, params: ContextParams, rows: np.ndarray):
    """One env held at each context row, as a single-task agent's context mode shows it
    (agents/common/context_modes.py; as built when the agent has none)."""
    learner = getattr(agent, "population", agent)
    inputs = getattr(learner, "inputs", None)
    if inputs is None:
        return family.make_context_envs(params, rows)
    env = family.make_context_envs(context_task_params(learner.config, params), rows)
    return learner.wrap_vector(env) if hasattr(learner, "wrap_vector") else inputs.wrap(env)


def sampled_probes(agent: Any, seed: int):
    """While inside, a probing agent's probes are sampled from a generator of ``seed``
    (its most likely actions otherwise); nothing for the other agents."""
    inputs = getattr(getattr(agent, "population", agent), "inputs", None)
    return inputs.evaluating([seed]) if inputs is not None else nullcontext()


def greedy_returns(env: Any, seed: int, act: Act) -> np.ndarray:
    """One greedy episode of every env of a vector env reset with ``seed``; steps after an
    env's episode ended are not counted (NEXT_STEP autoreset)."""
    observations, _ = env.reset(seed=seed)
    return play_out(env, observations, act)


def evaluate_split(
    family: ContextualFamily,
    params: ContextParams,
    split: str,
    act: Act,
    *,
    contexts: int,
    episodes: int,
    seed: int,
    agent: Any = None,
) -> SplitResult:
    """``act`` on ``contexts`` contexts of ``split`` (drawn with ``seed``), ``episodes``
    episodes each (the env reset with ``seed`` too, so a seed replays the evaluation);
    the envs shown as ``agent`` sees them (its context mode: factors, windows)."""
    params.check_split(split)
    drawn = params.split_contexts(split, contexts, np.random.default_rng(seed))
    env = agent_envs(agent, family, params, np.repeat(drawn, episodes, axis=0))
    with sampled_probes(agent, seed):
        returns = greedy_returns(env, seed, act).reshape(contexts, episodes)
    return SplitResult(split, params.factor_names, drawn, returns, family.solved_threshold)


def play_embeddings(
    population: Any, env: Any, seed: int, behaviour: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One episode of every env of ``env`` (reset with ``seed``), and the embedding of
    each at the step where it is first complete (a full window; the probe's end): the
    envs that reached it and their embeddings, in the order they did. One point per
    episode, so a long episode weighs no more than a short one (a probe's embedding
    stays the same for the rest of its episode)."""
    inputs = population.inputs
    observations, _ = env.reset(seed=seed)
    # The slot whose filling completes the embedding: the window's oldest, the probe's last.
    complete_slot = inputs.probe_steps - 1 if inputs.probe_steps else 0
    rng = np.random.default_rng(seed)
    envs, embeddings = [], []
    running = np.ones(env.num_envs, dtype=bool)
    seen = np.zeros(env.num_envs, dtype=bool)
    while running.any():
        x = torch.as_tensor(observations, dtype=torch.float32).unsqueeze(0)
        complete = inputs.window(x)[0, :, complete_slot, -1].numpy() > 0
        keep = np.flatnonzero(complete & running & ~seen)
        if len(keep):
            seen[keep] = True
            z = inputs.embeddings(population.template, population.q_params, x)[0].numpy()
            envs.append(keep)
            embeddings.append(z[keep])
        if behaviour == "greedy":
            actions = population.greedy_actions(observations)
        else:
            actions = rng.integers(population.num_actions, size=env.num_envs)
            actions = inputs.probe_actions(observations, actions, None)
        observations, _, terminated, truncated, _ = env.step(actions)
        running &= ~(terminated | truncated)
    env.close()
    return envs, embeddings


@dataclass(frozen=True)
class ProbeFit:
    """A linear probe from a policy's context embedding to the true factors: R² per
    factor on held-out contexts (each context's episode is all train or all held out)."""

    factor_names: tuple[str, ...]
    r2: tuple[float, ...]
    train_points: int
    test_points: int

    @property
    def mean_r2(self) -> float:
        return float(np.mean(self.r2))


def embedding_r2(
    agent: Any,
    family: ContextualFamily,
    params: ContextParams,
    *,
    contexts: int,
    seed: int,
    split: str = "train",
    behaviour: str = "greedy",
) -> ProbeFit:
    """Play one episode at each of ``contexts`` contexts of ``split``, record the
    embedding the policy reads at the step where it is first complete (a full window;
    the probe's end), fit least squares (with an intercept) from embeddings to the varied
    factors on the first half of the contexts and report R² on the other half.

    ``behaviour``: ``greedy``, the agent's own policy; ``random``, uniform random actions
    (what the predictive encoder trained on). A probe is the probing policy's either way.
    Which states a behaviour visits decides what the dynamics show: a balanced pole
    hides gravity, whose share of its angular acceleration grows with the angle."""
    if behaviour not in ("greedy", "random"):
        raise ConfigError(f"behaviour {behaviour!r} is not greedy or random")
    population = getattr(agent, "population", None)
    inputs = getattr(population, "inputs", None)
    if inputs is None:
        raise ConfigError("the linear probe reads the embeddings of dqn's context modes")
    if not inputs.encoded:
        raise ConfigError(
            f"context={inputs.mode} has no embedding to probe; use learned, predictive or probing"
        )
    drawn = params.split_contexts(split, contexts, np.random.default_rng(seed))
    env = agent_envs(agent, family, params, drawn)
    with sampled_probes(agent, seed):
        envs, embeddings = play_embeddings(population, env, seed, behaviour)
    if not envs:
        raise ConfigError("no episode lasted long enough to complete an embedding")
    index, z = np.concatenate(envs), np.concatenate(embeddings).astype(np.float64)
    varied = [params.factor_names.index(name) for name in params.varied_factors]
    y = drawn[index][:, varied]
    features = np.concatenate([z, np.ones((len(z), 1))], axis=1)
    train, test = index < contexts // 2, index >= contexts // 2
    if train.sum() < features.shape[1] or test.sum() < 2:
        raise ConfigError(
            f"{train.sum()} and {test.sum()} complete embeddings to fit and test on; play more "
            "contexts"
        )
    coefficients, *_ = np.linalg.lstsq(features[train], y[train], rcond=None)
    residual = ((y[test] - features[test] @ coefficients) ** 2).sum(axis=0)
    total = ((y[test] - y[test].mean(axis=0)) ** 2).sum(axis=0)
    return ProbeFit(
        tuple(params.varied_factors),
        tuple(float(r) for r in 1.0 - residual / total),
        int(train.sum()),
        int(test.sum()),
    )
