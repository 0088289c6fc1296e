"""Populations as a user starts them: ``--seeds`` and ``--vary`` checked into one config
per member, ``--device`` resolved, the members queued as runs (one row each, ``population``
the first member's id), trained here or in one background worker, and resumed together.

Every check happens before anything is written: a bad seed list, a field that cannot
vary, a value out of its range or an agent without a batched form raises a ConfigError
(``field`` set) and leaves the store as it was. torch and the agents load only inside the
functions, as in ``workbench.service.runs``.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envs.config import MAX_SEED, ConfigError
from workbench import worker
from workbench.service.runs import (
    RunSettings,
    check_agent_source,
    check_checkpoint,
    check_name,
    check_settings,
)
from workbench.store import RESUMABLE, RunRecord, Store, StoreError

if TYPE_CHECKING:
    from workbench.runner import Progress

MAX_MEMBERS = 10_000
"""Most members one population may have: thousands fit a GPU; more is a typo."""
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class PopulationSettings:
    """A population's validated settings: the shared ones, and per member its seed, its
    varied values and its whole config (as stored)."""

    shared: RunSettings
    seeds: list[int]
    varied: list[dict[str, Any]]
    configs: list[dict[str, Any]]
    device: str


def parse_seeds(text: str) -> list[int]:
    """``0-15``, ``0,3,7`` or ``0-3,8``: the seeds in the order given; refuses an empty or
    malformed list, a range that goes down, a seed out of range and a repeated seed."""

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"--seeds {text!r}: {why}; e.g. --seeds 0-15 or 0,3,7", field="seeds")

    seeds: list[int] = []
    for part in text.split(","):
        low, sep, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if sep else low)
        except ValueError:
            raise refuse(f"{part.strip()!r} is not a seed or a range of seeds") from None
        if first > last:
            raise refuse(f"the range {first}-{last} goes down")
        if last > MAX_SEED:
            raise refuse(f"seeds go up to {MAX_SEED:,}")
        if len(seeds) + last - first + 1 > MAX_MEMBERS:
            raise refuse(f"more than {MAX_MEMBERS:,} seeds")
        seeds.extend(range(first, last + 1))
    repeated = sorted(seed for seed, count in Counter(seeds).items() if count > 1)
    if repeated:
        raise refuse(f"seed {repeated[0]} is given twice")
    return seeds


def parse_vary(items: Sequence[str]) -> dict[str, list[str]]:
    """``FIELD=v1,v2,...`` options as field -> value texts (checked against the agent's
    fields by ``check_population``)."""
    varied: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        texts = [value.strip() for value in values.split(",")]
        if not sep or not name or not all(texts):
            raise ConfigError(
                f"--vary {item!r} is not FIELD=v1,v2,..., e.g. --vary discount=0.9,0.99",
                field="vary",
            )
        if name in varied:
            raise ConfigError(
                f"--vary {name} is given twice; list all its values in one", field=name
            )
        varied[name] = texts
    return varied


def resolve_device(device: str) -> str:
    """``auto`` as cuda where torch sees a GPU, else cpu; ``cuda`` refused without one."""
    if device not in DEVICES:
        raise ConfigError(f"--device must be auto, cpu or cuda, got {device!r}", field="device")
    if device == "cpu":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ConfigError(
            "--device cuda: torch sees no CUDA GPU on this machine; use --device cpu "
            "(or auto, which takes cuda only where there is one)",
            field="device",
        )
    return "cpu"


def population_agents() -> list[str]:
    """The agents that train as populations (those with a batched form)."""
    from agents.registry import AGENTS

    return [spec.name for spec in AGENTS.values() if spec.population is not None]


def check_population(
    agent: str,
    task: str,
    *,
    agent_values: Mapping[str, Any] | None = None,
    task_values: Mapping[str, Any] | None = None,
    steps: int = 1,
    seeds: Sequence[int] = (0,),
    vary: Mapping[str, Sequence[str]] | None = None,
    device: str = "auto",
) -> PopulationSettings:
    """Validate a population: the shared settings (as ``check_settings``), the agent's
    batched form, each varied field (a config field of the agent that may differ per
    member, not set by ``--set`` too) and each of its values (the field's own parser and
    range). Members are the product of the varied values and the seeds."""
    from agents.common.population import check_members
    from agents.registry import get_agent
    from envs.config import build, fields, parse_value, suggest
    from envs.registry import get_task

    vary = dict(vary or {})
    agent_values = dict(agent_values or {})
    shared = check_settings(
        agent, task, agent_values=agent_values, task_values=task_values, steps=steps, seed=seeds[0]
    )
    spec = get_agent(agent)
    if spec.population is None:
        able = ", ".join(population_agents()) or "none yet"
        raise ConfigError(
            f"agent {agent} has no population form (it trains one run at a time): drop --vary "
            f"and give one seed, or train a population of one of: {able}",
            field="seeds",
        )
    known = {info.name: info for info in fields(spec.config)}
    task_fields = {info.name for info in fields(get_task(task).Params)}
    for name in vary:
        if name not in known:
            if name in task_fields:
                raise ConfigError(
                    f"--vary {name}: {name} is a parameter of task {task}, and a population "
                    "shares its task; train one population per value",
                    field=name,
                )
            raise ConfigError(
                f"--vary {name}: unknown config field of {agent}{suggest(name, known)}; "
                f"`workbench agents {agent}` lists them",
                field=name,
            )
        if not known[name].per_member:
            able = ", ".join(n for n, info in known.items() if info.per_member)
            raise ConfigError(
                f"--vary {name}: {name} sets a network's shape or the loop's structure, so it "
                f"must be equal across the members of a population; fields that may vary: "
                f"{able}",
                field=name,
            )
        if name in agent_values:
            raise ConfigError(f"{name} is given by --set and --vary; keep one", field=name)
    values = {
        name: [parse_value(known[name], text) for text in texts] for name, texts in vary.items()
    }
    for name, listed in values.items():
        if len(set(listed)) < len(listed):
            raise ConfigError(f"--vary {name} lists a value twice", field=name)
    members = math.prod(len(listed) for listed in values.values()) * len(seeds)
    if members > MAX_MEMBERS:  # counted before the product is built
        raise ConfigError(
            f"{members:,} members (seeds x varied values); a population has at most "
            f"{MAX_MEMBERS:,}",
            field="seeds",
        )
    combinations = [
        dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())
    ]
    built = {}
    for combo in combinations:
        key = tuple(combo.items())
        built[key] = build(spec.config, {**agent_values, **combo}, owner=agent)
    check_members(list(built.values()))
    member_seeds, varied, configs = [], [], []
    for combo in combinations:
        for seed in seeds:
            member_seeds.append(seed)
            varied.append(combo)
            configs.append(built[tuple(combo.items())].to_dict())
    return PopulationSettings(shared, member_seeds, varied, configs, resolve_device(device))


def create_population(
    store: Store,
    population: PopulationSettings,
    *,
    steps: int,
    name: str | None = None,
    init_from: int | None = None,
    init_checkpoint: str = "last",
) -> list[int]:
    """Queue one run per member in one transaction; return their ids (the first is the
    population's id). With ``init_from``, each member's networks start from a copy of that
    run's checkpoint, checked against the member's config before any row is written."""
    from workbench import runner

    check_name(name)
    check_checkpoint(init_checkpoint, option="--init-checkpoint")
    shared = population.shared
    copies: list[Path] = []
    try:
        members = []
        for index, (seed, config) in enumerate(
            zip(population.seeds, population.configs, strict=True)
        ):
            init_path = None
            if init_from is not None:
                init_path = runner.save_init_weights(
                    store, init_from, shared.agent, shared.task, config, shared.task_params,
                    checkpoint=init_checkpoint,
                )  # fmt: skip
                copies.append(init_path)
            members.append(
                {
                    "agent": shared.agent,
                    "task": shared.task,
                    "config": config,
                    "task_params": shared.task_params,
                    "seed": seed,
                    "total_steps": steps,
                    "name": f"{name}-{index}" if name else None,
                    "init_from": init_from,
                    "init_path": str(init_path) if init_path else None,
                    "init_checkpoint": init_checkpoint if init_from is not None else None,
                    "device": population.device,
                }
            )
        return store.create_population(members)
    except BaseException:
        for path in copies:
            path.unlink(missing_ok=True)
        raise


def start_background(store: Store, run_ids: Sequence[int]) -> int:
    """One worker process for all the queued members; return its pid."""
    return worker.launch(store, list(run_ids))


def train_foreground(
    store: Store,
    run_ids: Sequence[int],
    *,
    on_progress: Callable[[int, Progress], None] | None = None,
    stop_event: threading.Event | None = None,
) -> list[RunRecord]:
    """Train the queued members in this process until each ends; return their rows."""
    from workbench.population_runner import execute_population

    return execute_population(store, run_ids, on_progress=on_progress, stop_event=stop_event)


def member_ids(store: Store, population: int) -> list[int]:
    """The run ids of a population's members; a ConfigError when there is none."""
    ids = [run.id for run in store.population_runs(population)]
    if not ids:
        raise ConfigError(
            f"no population {population}; `workbench runs ls` shows each member's population",
            field="population",
        )
    return ids


def resume_runs(store: Store, run_ids: Sequence[int]) -> list[RunRecord]:
    """Continue stopped, failed or lost runs from their checkpoints: runs of agents with a
    batched form in ONE worker process (grouped there by checkpoint step), the others
    each in its own worker (as ``runs resume`` of one run)."""
    runs = [store.get_run(run_id) for run_id in dict.fromkeys(run_ids)]
    for run in runs:
        if run.status not in RESUMABLE:
            raise StoreError(
                f"run {run.id} is {run.status}; only {', '.join(RESUMABLE)} runs resume"
            )
    for run in runs:
        check_agent_source(run)
    if len(runs) == 1 and runs[0].population is None:
        return [worker.resume(store, runs[0].id)]  # a lone run: no torch loaded here
    from agents.registry import get_agent

    together = [run.id for run in runs if get_agent(run.agent).population is not None]
    alone = [run.id for run in runs if run.id not in together]
    if len(together) == 1 and store.get_run(together[0]).population is None:
        alone, together = together + alone, []
    resumed = worker.resume_together(store, together) if together else []
    resumed += [worker.resume(store, run_id) for run_id in alone]
    order = {run.id: index for index, run in enumerate(runs)}
    return sorted(resumed, key=lambda run: order[run.id])


def member_json(run: RunRecord, varied: Sequence[str]) -> dict[str, Any]:
    """A member as the foreground table and ``--json`` show it: id, seed, its varied
    fields, status and its last evaluation."""
    summary = run.summary
    return (
        {"id": run.id, "seed": run.seed}
        | {name: run.config.get(name) for name in varied}
        | {
            "status": run.status,
            "eval_return_mean": summary.get("eval_return_mean"),
            "eval_return_std": summary.get("eval_return_std"),
        }
    )
