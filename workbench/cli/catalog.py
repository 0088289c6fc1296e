"""``workbench agents`` and ``workbench tasks``: what can train on what, with every config
field, the installed plug-ins (entry points) among them; and ``agents check SPEC``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from workbench.cli.common import JsonFlag, console, err_console, print_json, user_errors


@user_errors
def agents(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Only this agent, e.g. dqn or path/file.py:Class; or `check` to check the "
            "agent SPEC against the protocol. Default: all."
        ),
    ] = None,
    spec: Annotated[
        str | None, typer.Argument(help="With check: the agent to check (a spec or a name).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="With check: the task to train it on (default: its first).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """List the agents (built-in and installed plug-ins), the tasks each supports, and their
    config fields (or one agent's). `agents check SPEC` builds the agent, trains it a few
    hundred steps, checkpoints, resumes, and prints one line per problem (exit 2)."""
    if name == "check":
        check(spec, task, json_output)
        return
    if spec is not None:
        raise typer.BadParameter(
            f"unexpected {spec!r}: did you mean `workbench agents check {spec}`?"
        )
    from agents.registry import AGENTS, get_agent
    from envs.config import describe
    from workbench.plugins import entry_point_names

    if name is not None:
        specs = [get_agent(name)]
    else:
        specs = list(AGENTS.values())
        for entry in entry_point_names():
            try:
                specs.append(get_agent(entry))
            except Exception as err:  # an installed plug-in that does not load: say which
                err_console.print(f"plug-in agent {entry}: {err}", markup=False)
    listing = [agent_entry(s, describe) for s in specs]
    if json_output:
        print_json(listing[0] if name is not None else listing)
        return
    for entry in listing:
        _print_fields(f"{entry['name']}: {entry['summary']}", entry["config"])
        gym = [f"gym:ID with {kind} actions" for kind in entry["gym_actions"]]
        console.print(f"  tasks: {', '.join(entry['tasks'] + gym)}\n", markup=False)


def agent_entry(spec: Any, describe: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "summary": spec.summary,
        "tasks": list(spec.tasks),
        "gym_actions": list(spec.actions),
        "config": describe(spec.config),
    } | ({"source_sha256": spec.source_sha256} if spec.source_sha256 else {})


def check(spec: str | None, task: str | None, json_output: bool) -> None:
    if not spec:
        raise typer.BadParameter(
            "give the agent to check: `workbench agents check path/file.py:Class`"
        )
    from workbench.plugin_check import check_agent

    result = check_agent(spec, task)
    if json_output:
        print_json(
            {"spec": spec, "task": result.task, "problems": result.problems, "done": result.done}
        )
    elif result.problems:
        for problem in result.problems:
            err_console.print(f"problem: {problem}", markup=False)
    else:
        console.print(f"ok: {spec}: {'; '.join(result.done)}", markup=False)
    if result.problems:
        raise typer.Exit(2)


@user_errors
def tasks(json_output: JsonFlag = False) -> None:
    """List the task families (built-in and installed plug-ins), the agents that support
    each, and their parameters. Any gymnasium environment trains as gym:ID too."""
    import numpy as np

    from agents.registry import AGENTS
    from envs.config import describe
    from envs.registry import TASKS, get_task
    from workbench.plugins import TASK_GROUP, entry_point_names

    families = list(TASKS.values())
    for entry in entry_point_names(TASK_GROUP):
        try:
            families.append(get_task(entry))
        except Exception as err:
            err_console.print(f"plug-in task {entry}: {err}", markup=False)
    listing = [
        {
            "name": f.name,
            "summary": f.summary,
            "agents": [s.name for s in AGENTS.values() if f.name in s.tasks],
            "params": describe(f.Params),
            "example": f.describe_task(f.sample(f.Params(), np.random.default_rng(0))),
        }
        for f in families
    ]
    if json_output:
        print_json(listing)
        return
    for entry in listing:
        _print_fields(f"{entry['name']}: {entry['summary']}", entry["params"])
        console.print(f"  agents: {', '.join(entry['agents']) or '-'}", markup=False)
        console.print(f"  sampled task: {entry['example']}\n", markup=False)
    gym_agents = ", ".join(s.name for s in AGENTS.values() if s.actions)
    console.print(
        f"gym:ID (any gymnasium environment, gym:module:ID imports module first): {gym_agents} "
        "for discrete actions",
        markup=False,
    )


def _print_fields(title: str, fields: list[dict]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in ("field", "type", "default", "range", "help"):
        table.add_column(column, overflow="fold")
    for f in fields:
        table.add_row(f["name"], f["type"], repr(f["default"]), f["range"] or "", f["help"])
    if not fields:
        table.add_row("(no parameters)", "", "", "", "")
    console.print(table)
