"""The seeds an agent derives from its run's seed, named so each offset says what it keeps
apart (training envs, evaluation envs, held-out tasks)."""

from __future__ import annotations

ENV_SEED_STRIDE = 1_000_003
"""Multiplies the run's seed in a learn loop's env seed (``seed * stride + steps_done``), so
runs with different seeds never reset on the same seed while resuming in their first 1M steps."""

EVAL_ENV_SEED_STRIDE = 10_000_019
"""Multiplies ``seed + 1`` in the env seed of greedy evaluation k (plus k): about ten times
the training stride, so a run never evaluates on an env seed it trained on."""

EVAL_SEED_OFFSET = 1_000_003
"""Added to a meta-RL run's seed to draw its held-out evaluation tasks, apart from the
training tasks, which are drawn from the seed itself."""


def train_env_seed(seed: int, steps_done: int) -> int:
    """Seed of a learn loop's env reset; a resumed run starts fresh episodes from it."""
    return seed * ENV_SEED_STRIDE + steps_done


def eval_env_seed(seed: int, evaluation: int) -> int:
    """Seed of the envs of a single-task agent's ``evaluation``-th greedy evaluation."""
    return EVAL_ENV_SEED_STRIDE * (seed + 1) + evaluation


def held_out_task_seed(seed: int) -> int:
    """Seed of the generator of a meta-RL run's held-out tasks (the same at every evaluation,
    so successive evaluations are paired)."""
    return seed + EVAL_SEED_OFFSET
