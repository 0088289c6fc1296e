"""``workbench baselines``: reference policies on sampled tasks of a family, as a table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agents.reference import NotApplicable, TooLarge, evaluate, policies_for
from envs.config import MAX_SEED, build, suggest
from envs.registry import get_task
from workbench.cli.common import (
    MAX_TASKS,
    JsonFlag,
    check_option,
    console,
    fail,
    parse_assignments,
    print_json,
    user_errors,
)


@user_errors
def baselines(
    task: Annotated[str, typer.Argument(help="Task family, see `workbench tasks`.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Task parameter key=value (repeatable).")
    ] = None,
    policy_set: Annotated[
        list[str] | None,
        typer.Option(
            "--policy-set", help="Policy constant policy.key=value, e.g. ucb1.exploration=0.2."
        ),
    ] = None,
    policy: Annotated[
        list[str] | None, typer.Option("--policy", help="Only these policies (repeatable).")
    ] = None,
    tasks: Annotated[int, typer.Option(help="Sampled tasks (one meta-episode each).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the task sample and the policies.")] = 0,
    json_output: JsonFlag = False,
) -> None:
    """Mean total reward per meta-episode of each reference policy, with a 95% interval."""
    family = get_task(task)
    specs = policies_for(family)
    if not specs:
        fail(
            f"no reference policies act on {task!r}; they cover the bandit, tabular-mdp, "
            "gridworld and scavenger families"
        )
    if tasks < 2:
        fail(f"--tasks must be at least 2 to give an interval, got {tasks}")
    check_option("--tasks", tasks, 2, MAX_TASKS)
    check_option("--seed", seed, 0, MAX_SEED)
    params = build(family.Params, parse_assignments(set_, "--set"), owner=task)
    names = [spec.name for spec in specs]
    for name in policy or []:
        if name not in names:
            choices = ", ".join(names)
            fail(f"no policy {name!r} for {task}{suggest(name, names)}; choose from {choices}")
    constants: dict[str, dict[str, str]] = {}
    for key, value in parse_assignments(policy_set, "--policy-set").items():
        name, dot, field = key.partition(".")
        if not dot or name not in names:
            fail(
                f"--policy-set {key}={value}: write policy.key=value with a policy of {task}: "
                f"{', '.join(names)}"
            )
        constants.setdefault(name, {})[field] = value
    configs = {
        spec.name: build(spec.config, constants.get(spec.name, {}), owner=spec.name)
        for spec in specs
    }

    rows, skipped = [], []
    for spec in specs:
        if policy and spec.name not in policy:
            continue
        try:
            rows.append(evaluate(family, params, spec, configs[spec.name], tasks, seed))
        except (NotApplicable, TooLarge) as err:
            skipped.append((spec.name, str(err)))
    if json_output:
        print_json([row.to_json() | {"task_params": params.to_dict()} for row in rows])
        return
    table = Table(
        title=f"{task} {escape(str(params.to_dict()))}, {tasks} tasks, seed {seed}",
        title_justify="left",
    )
    for column in ("policy", "mean total reward", "95% CI", "constants"):
        table.add_column(column, justify="right" if column != "policy" else "left")
    for row in rows:
        ci = "exact" if row.exact else f"± {row.ci95:.2f}"
        constants_text = ", ".join(f"{k}={v}" for k, v in row.params.items()) or "-"
        table.add_row(row.policy, f"{row.mean:.2f}", ci, constants_text)
    console.print(table)
    for name, reason in skipped:
        console.print(f"{name}: not computed: {reason}", markup=False)
