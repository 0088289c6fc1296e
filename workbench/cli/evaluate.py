"""``workbench eval`` and ``workbench report generalization``: trained meta-RL runs on
held-out tasks of any compatible family, beside the reference policies of the same tasks;
with ``--split``, a single-task run on an evaluation split of its contextual family."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from agents.common.base import ci95
from agents.common.contexts import SplitResult
from agents.common.meta_learner import MetaLearner, trial_rewards
from agents.common.seeds import EVAL_SEED_OFFSET
from agents.reference import NotApplicable, TooLarge, evaluate, policies_for
from agents.reference.bayes_optimal import exact_value
from agents.registry import META_TASKS
from envs.bandits import two_armed_families
from envs.config import MAX_SEED, ConfigError, build
from envs.registry import get_task
from workbench.cli.common import (
    MAX_TASKS,
    Home,
    JsonFlag,
    check_option,
    console,
    open_store,
    parse_assignments,
    print_json,
    user_errors,
)
from workbench.cli.context_report import context
from workbench.cli.continual import continual
from workbench.runner import load_trained
from workbench.service.contexts import evaluate_run_split
from workbench.service.runs import check_checkpoint
from workbench.store import RunRecord, Store

report_app = typer.Typer(help="Tables built from several runs.")
report_app.command("continual")(continual)
report_app.command("context")(context)


def evaluate_run(
    store: Store,
    run: RunRecord,
    task: str,
    params,
    tasks: int,
    seed: int,
    checkpoint: str = "last",
) -> dict:
    """Mean total reward and 95% CI of a run's policy (its last or best checkpoint) on
    ``tasks`` tasks of a family (and under "totals" the total of each task, which the
    JSON form leaves out)."""
    agent = load_trained(store, run, checkpoint)
    if not isinstance(agent, MetaLearner):
        raise ConfigError(single_task_message(run))
    family = get_task(task)
    probe = family.meta_batch(params, 1, np.random.default_rng(0))
    if (probe.observation_size, probe.num_actions) != (
        agent.env.observation_size,
        agent.env.num_actions,
    ):
        raise ConfigError(
            f"run {run.id} was trained on {run.task} {run.task_params} with "
            f"{agent.env.num_actions} actions and inputs of size {agent.env.observation_size}; "
            f"{task} {params.to_dict()} has {probe.num_actions} and {probe.observation_size}"
        )
    per_trial = trial_rewards(agent.net, family, params, tasks, seed, agent.config.eval_greedy)
    totals = per_trial.sum(0)
    label = (
        f"run {run.id} ({run.agent})"
        if checkpoint == "last"
        else f"run {run.id} ({run.agent}, best)"
    )
    return {
        "policy": label,
        "mean": float(totals.mean()),
        "ci95": ci95(totals),
        "exact": False,
        "tasks": tasks,
        "per_trial": per_trial.mean(1).tolist(),
        "totals": totals,
    }


def single_task_message(run: RunRecord) -> str:
    return (
        f"run {run.id} is a {run.agent} run; eval across task families is for the "
        "meta-RL agents (rl2, l2rl, snail, varibad); a single-task run on a contextual family "
        "is evaluated with --split NAME"
    )


def reference_rows(task: str, params, tasks: int, seed: int, run_totals: np.ndarray) -> list[dict]:
    """Every reference policy that applies, on the same tasks as the run (the same seed
    samples the same tasks), with the run's advantage over it paired task by task."""
    family = get_task(task)
    rows = []
    for spec in policies_for(family):
        try:
            result = evaluate(family, params, spec, spec.config(), tasks, seed)
        except (NotApplicable, TooLarge):
            continue
        row = result.to_json()
        # An exact value has no tasks to pair with: the run's own CI is the comparison.
        difference = run_totals - (result.totals if result.totals is not None else result.mean)
        row["run_minus_policy"] = {
            "mean": float(difference.mean()),
            "ci95": ci95(difference) if result.totals is not None else None,
        }
        rows.append(row)
    return rows


@user_errors
def eval_run(
    run_id: Annotated[
        int,
        typer.Argument(
            help="A trained meta-RL run, or with --split a single-task run (`workbench runs ls`)."
        ),
    ],
    task: Annotated[str | None, typer.Option(help="Family to test on; default: the run's.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Task parameter key=value (repeatable).")
    ] = None,
    tasks: Annotated[int | None, typer.Option(help="Held-out tasks (default 1000).")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the task sample; default: the run's held-out one.")
    ] = None,
    per_trial: Annotated[
        bool,
        typer.Option(
            "--per-trial",
            help="Also the mean reward of each trial (episode or pull) of the meta-episode, "
            "in at most 10 columns: how fast each policy improves within a task.",
        ),
    ] = False,
    checkpoint: Annotated[
        str,
        typer.Option(
            help="Which checkpoint of the run: last, or best (its best evaluation's, kept "
            "beside the last)."
        ),
    ] = "last",
    beside: Annotated[
        list[int] | None,
        typer.Option(
            "--beside",
            help="Another trained meta-RL run to play the same tasks, shown under the run "
            "with its own paired difference (repeatable), e.g. rl2 beside varibad.",
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            help="Evaluate a single-task run on this split of its contextual family: train, "
            "interpolation, combinatorial, extrapolation-single, extrapolation-all, test, all."
        ),
    ] = None,
    contexts: Annotated[int, typer.Option(help="Contexts of the --split played.")] = 100,
    episodes: Annotated[int, typer.Option(help="Greedy episodes per context (--split).")] = 1,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Mean total reward of a trained run on held-out tasks, beside the reference policies;
    with --split, a single-task run's greedy return on contexts of a split.

    JSON rows always carry ``per_trial``, the mean reward of every trial, and each reference
    row ``run_minus_policy``, the run's advantage over it paired task by task."""
    check_checkpoint(checkpoint)
    if seed is not None:
        check_option("--seed", seed, 0, MAX_SEED)
    if split is not None:
        given = [
            name
            for name, value in (
                ("--task", task),
                ("--set", set_),
                ("--tasks", tasks),
                ("--beside", beside),
            )
            if value
        ] + (["--per-trial"] if per_trial else [])
        if given:
            raise ConfigError(
                f"{', '.join(given)} is for meta-RL runs on held-out tasks, not with --split"
            )
        store = open_store(home)
        run = store.get_run(run_id)
        result = evaluate_run_split(
            store,
            run,
            split,
            contexts=contexts,
            episodes=episodes,
            seed=seed,
            checkpoint=checkpoint,
        )
        print_split(run, result, checkpoint, json_output)
        return
    tasks = 1000 if tasks is None else tasks
    if tasks < 2:
        raise ConfigError(f"--tasks must be at least 2 to give an interval, got {tasks}")
    check_option("--tasks", tasks, 2, MAX_TASKS)
    store = open_store(home)
    run = store.get_run(run_id)
    if run.task not in META_TASKS:  # known before the checkpoint is read
        raise ConfigError(single_task_message(run))
    task = task or run.task
    family = get_task(task)
    values = dict(run.task_params) if task == run.task else {}
    values.update(parse_assignments(set_, "--set"))
    params = build(family.Params, values, owner=task)
    seed = EVAL_SEED_OFFSET + run.seed if seed is None else seed
    run_row = evaluate_run(store, run, task, params, tasks, seed, checkpoint)
    run_totals = run_row.pop("totals")
    others = []
    for other_id in beside or []:
        other = evaluate_run(store, store.get_run(other_id), task, params, tasks, seed, checkpoint)
        difference = run_totals - other.pop("totals")
        other["run_minus_policy"] = {"mean": float(difference.mean()), "ci95": ci95(difference)}
        others.append(other)
    rows = [run_row, *others, *reference_rows(task, params, tasks, seed, run_totals)]
    if json_output:
        print_json(rows)
        return
    table = Table(
        title=f"{task} {escape(str(params.to_dict()))}, {tasks} held-out tasks, seed {seed}",
        title_justify="left",
    )
    for column in ("policy", "mean total reward", "95% CI", f"run {run.id} − policy"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for row in rows:
        versus = row.get("run_minus_policy")
        if versus is None:
            paired = ""
        elif versus["ci95"] is None:
            paired = f"{versus['mean']:+.2f}"
        else:
            paired = f"{versus['mean']:+.2f} ± {versus['ci95']:.2f}"
        table.add_row(
            row["policy"],
            f"{row['mean']:.2f}",
            "exact" if row["exact"] else f"± {row['ci95']:.2f}",
            paired,
        )
    console.print(table)
    console.print(
        f"run {run.id} − policy: the run's total minus the policy's on each task, averaged, "
        "with its 95% CI (the same tasks for every row).",
        markup=False,
    )
    if per_trial:
        console.print(per_trial_table(rows))


def print_split(run: RunRecord, result: SplitResult, checkpoint: str, json_output: bool) -> None:
    """The split's summary (``--json``: with every context's factors and return)."""
    if json_output:
        print_json({"run": run.id, "checkpoint": checkpoint, **result.to_json()})
        return
    n, episodes = len(result.contexts), result.returns.shape[1]
    played = f"{n} contexts" + (f", {episodes} episodes each" if episodes > 1 else "")
    line = (
        f"run {run.id} ({run.agent} on {run.task}, {checkpoint} checkpoint), split "
        f"{result.split}, {played}: mean return {result.mean:.2f} ± {result.ci95:.2f} "
        "(95% CI over contexts)"
    )
    if result.solved is not None:
        line += f", solved {result.solved:.0%} (return ≥ {result.threshold:g})"
    console.print(line, markup=False)


def trial_groups(trials: int, columns: int = 10) -> list[tuple[str, np.ndarray]]:
    """Up to ``columns`` consecutive groups of trial indices with their 1-based labels
    (first and last on two lines, so that a column stays four characters wide)."""
    groups = np.array_split(np.arange(trials), min(trials, columns))
    return [(str(g[0] + 1) if len(g) == 1 else f"{g[0] + 1}-\n{g[-1] + 1}", g) for g in groups]


def per_trial_table(rows: list[dict]) -> Table:
    """Mean reward per trial (averaged within each group of trials) of every policy that
    played the tasks (an exact value has none)."""
    played = [row for row in rows if row.get("per_trial")]
    groups = trial_groups(len(played[0]["per_trial"]))
    # Compact, so that ten columns fit 80 terminal columns beside the policy names.
    table = Table(
        title="mean reward per trial",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 0, 0, 1),
    )
    table.add_column("policy", justify="left", no_wrap=True)
    for label, _ in groups:
        table.add_column(label, justify="right", min_width=4, no_wrap=True)
    means = [[float(np.mean(np.asarray(row["per_trial"])[g])) for _, g in groups] for row in played]
    digits = 2 if max(abs(m) for row in means for m in row) < 10 else 1  # four characters
    for row, values in zip(played, means, strict=True):
        table.add_row(row["policy"], *(f"{m:.{digits}f}" for m in values))
    return table


def short_name(family: str) -> str:
    return family.removeprefix("bandit-").removeprefix("dependent-")


@report_app.command("generalization")
@user_errors
def generalization(
    agent: Annotated[str, typer.Option(help="Agent whose runs fill the matrix.")] = "l2rl",
    pulls: Annotated[int, typer.Option(help="Pulls per meta-episode of the runs and tests.")] = 100,
    tasks: Annotated[int, typer.Option(help="Held-out tasks per cell.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the held-out tasks.")] = EVAL_SEED_OFFSET,
    json_output: JsonFlag = False,
    home: Home = None,
) -> None:
    """Train-family x test-family matrix on the two-armed bandits, with regret to Bayes-optimal.

    Uses the latest completed run of AGENT on each training family with that many pulls.
    """
    check_option("--tasks", tasks, 2, MAX_TASKS)
    check_option("--seed", seed, 0, MAX_SEED)
    store = open_store(home)
    names = [family.name for family in two_armed_families()]
    trained: dict[str, RunRecord] = {}
    for run in store.list_runs(["completed"]):
        if run.agent == agent and run.task in names and run.task_params.get("pulls") == pulls:
            trained[run.task] = run  # ids grow: the latest wins
    if not trained:
        raise ConfigError(
            f"no completed {agent} run on the two-armed families with pulls={pulls}; train one, "
            f"e.g. workbench run {agent} bandit-dependent-easy --task-set pulls={pulls} "
            "--steps 3000000"
        )
    cells = []
    for test in names:
        family = get_task(test)
        params = family.Params(pulls=pulls)
        optimal = exact_value(family, params)
        for train, run in trained.items():
            row = evaluate_run(store, run, test, params, tasks, seed)
            cells.append(
                {
                    "train": train,
                    "test": test,
                    "run": run.id,
                    "mean": row["mean"],
                    "ci95": row["ci95"],
                    "bayes_optimal": optimal,
                    "regret": optimal - row["mean"],
                }
            )
    if json_output:
        print_json(cells)
        return
    table = Table(
        title=f"{agent}, {pulls} pulls: mean total reward (regret to Bayes-optimal), "
        f"{tasks} held-out tasks per cell",
        title_justify="left",
    )
    table.add_column("trained on \\ tested on")
    for test in names:
        table.add_column(short_name(test), justify="right")
    for train in trained:
        row = [f"{short_name(train)} (run {trained[train].id})"]
        for test in names:
            cell = next(c for c in cells if c["train"] == train and c["test"] == test)
            row.append(f"{cell['mean']:.1f} ({cell['regret']:+.1f})")
        table.add_row(*row)
    console.print(table)
    missing = [name for name in names if name not in trained]
    if missing:
        console.print(f"no completed {agent} run yet on: {', '.join(missing)}", markup=False)
