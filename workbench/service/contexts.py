"""A stored single-task run's policy on an evaluation split of its contextual family.

``workbench eval RUN --split NAME`` prints what ``evaluate_run_split`` returns; the
evaluation itself is ``agents.common.contexts.evaluate_split``. Every refusal is a
``UserError`` of one line, raised before the checkpoint is read where it can be.
"""

from __future__ import annotations

from agents.common.contexts import SplitResult, evaluate_split, greedy_policy
from agents.common.seeds import held_out_task_seed
from agents.registry import META_TASKS
from envs.config import restore
from envs.control import ContextualFamily
from envs.errors import UserError
from envs.registry import get_task
from envs.splits import SPLITS, ContextParams
from workbench.service.runs import check_checkpoint
from workbench.store import RunRecord, Store

MAX_CONTEXTS = 10_000
MAX_EPISODES = 100


def split_params(run: RunRecord, split: str) -> tuple[ContextualFamily, ContextParams]:
    """The run's family and task parameters (as it trained: ``restore``), once the split
    is known to be one its family defines for them."""
    if run.task in META_TASKS:
        raise UserError(
            f"run {run.id} is a meta-RL run ({run.agent} on {run.task}); --split evaluates "
            f"single-task runs on a contextual family; `workbench eval {run.id}` without "
            "--split tests it on held-out tasks"
        )
    family = get_task(run.task)
    if not isinstance(family, ContextualFamily):
        raise UserError(
            f"task {run.task} of run {run.id} has no context factors, so no splits; --split "
            "is for the contextual families (cartpole, mountaincar, pendulum, lunarlander)",
            field="split",
        )
    params = restore(family.Params, run.task_params, owner=run.task)
    if split not in SPLITS:
        raise UserError(
            f"--split {split!r}: run {run.id}'s {run.task} defines "
            f"{', '.join(params.defined_splits())}",
            field="split",
        )
    params.check_split(split)  # a split of the protocol these parameters cannot draw
    return family, params


def evaluate_run_split(
    store: Store,
    run: RunRecord,
    split: str,
    *,
    contexts: int = 100,
    episodes: int = 1,
    seed: int | None = None,
    checkpoint: str = "last",
) -> SplitResult:
    """The greedy policy of a run's ``checkpoint`` (last or best) on ``contexts``
    contexts of ``split``, ``episodes`` episodes each; contexts and env resets drawn from
    ``seed`` (default: the run's held-out seed, so runs of one seed play the same
    contexts)."""
    check_checkpoint(checkpoint)
    if not 2 <= contexts <= MAX_CONTEXTS:
        raise UserError(
            f"--contexts must be 2 to {MAX_CONTEXTS:,} (an interval needs two), got {contexts}",
            field="contexts",
        )
    if not 1 <= episodes <= MAX_EPISODES:
        raise UserError(f"--episodes must be 1 to {MAX_EPISODES}, got {episodes}", field="episodes")
    family, params = split_params(run, split)
    from workbench.runner import load_trained  # torch only once the input is good

    agent = load_trained(store, run, checkpoint)
    act = greedy_policy(agent, run.agent)
    seed = held_out_task_seed(run.seed) if seed is None else seed
    return evaluate_split(
        family, params, split, act, contexts=contexts, episodes=episodes, seed=seed, agent=agent
    )
