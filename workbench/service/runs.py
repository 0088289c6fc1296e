"""Runs as a user acts on them: start (queue, then train here or in a worker), stop,
resume, delete and export. The CLI and the TUI call these; neither runs SQL on runs nor
spawns a worker itself.

Every function takes an open :class:`~workbench.store.Store` and raises
:class:`~envs.errors.UserError` (a ``ConfigError`` or ``StoreError``, with ``field`` set
when the error belongs to one option or config field) for anything the user can fix.
torch, gymnasium and the agents load only in the functions that build an agent
(creating and training a run), so stopping, listing and deleting stay fast.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envs.errors import UserError
from workbench import export, worker
from workbench.export import LongExport, metrics_csv, metrics_json
from workbench.store import ACTIVE, CHECKPOINTS, RunRecord, Store, StoreError

if TYPE_CHECKING:
    from workbench.runner import Progress

EXPORT_FORMATS = ("csv", "json")


@dataclass(frozen=True)
class RunSettings:
    """A run's validated settings, as stored: config dicts with every field filled in."""

    agent: str
    task: str
    config: dict[str, Any]
    task_params: dict[str, Any]
    agent_sha256: str | None = None
    """A plug-in agent's source hash (``AgentSpec.source_sha256``), recorded with the run."""


def check_settings(
    agent: str,
    task: str,
    *,
    agent_values: Mapping[str, Any] | None = None,
    task_values: Mapping[str, Any] | None = None,
    steps: int = 1,
    seed: int = 0,
) -> RunSettings:
    """Validate an agent/task pair, their overrides (texts from ``--set`` or typed values
    from a form or a TOML file), the step budget and the seed.

    Raises ConfigError naming what is wrong; an agent key that belongs to the task (or the
    reverse) says where it goes (``field`` is the key). A plug-in agent is recorded under
    the name its spec resolves to (a file's absolute path) with its source's hash, and a
    plug-in task family likewise.
    """
    from agents.registry import get_agent
    from envs.config import MAX_SEED, MAX_STEPS, ConfigError, build, fields
    from envs.registry import get_task

    spec = get_agent(agent)
    family = get_task(task)
    spec.check_task(task)
    if not 1 <= steps <= MAX_STEPS:
        raise ConfigError(
            f"--steps must be a positive number of environment steps, at most {MAX_STEPS:,}, "
            f"got {steps}",
            field="steps",
        )
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(
            f"--seed must be zero or positive, at most {MAX_SEED:,}, got {seed}", field="seed"
        )
    agent_values, task_values = dict(agent_values or {}), dict(task_values or {})
    agent_keys = {info.name for info in fields(spec.config)}
    task_keys = {info.name for info in fields(family.Params)}
    for key, value in agent_values.items():
        if key not in agent_keys and key in task_keys:
            raise ConfigError(
                f"{key} is a parameter of task {task}, not of agent {agent}; "
                f"set it with --task-set {key}={value}",
                field=key,
            )
    for key, value in task_values.items():
        if key not in task_keys and key in agent_keys:
            raise ConfigError(
                f"{key} is a config field of agent {agent}, not of task {task}; "
                f"set it with --set {key}={value}",
                field=key,
            )
    config = build(spec.config, agent_values, owner=agent)
    params = build(family.Params, task_values, owner=task)
    spec.check_settings(config, params, steps)
    return RunSettings(
        agent=spec.name,
        task=family.name,
        config=config.to_dict(),
        task_params=params.to_dict(),
        agent_sha256=spec.source_sha256,
    )


def create_run(
    store: Store,
    settings: RunSettings,
    *,
    steps: int,
    seed: int = 0,
    name: str | None = None,
    init_from: int | None = None,
    init_checkpoint: str = "last",
    device: str | None = None,
    queue: str | None = None,
    retries: int = 0,
) -> int:
    """Queue a run of validated ``settings``; return its id (``device``: where it trains,
    already resolved, see ``service.populations.resolve_device``). The run's budget is
    ``steps`` or, for a family whose tasks end (a continual stream), what it has.
    ``queue="any"``: the run waits for any ``workbench worker``, which retries it up to
    ``retries`` times when it is lost.

    With ``init_from``, its networks start from that run's ``init_checkpoint`` ("last" or
    "best"), copied now; raises StoreError when those networks do not fit.
    """
    check_checkpoint(init_checkpoint, option="--init-checkpoint")
    check_name(name)
    from envs.registry import get_task
    from workbench import runner

    family = get_task(settings.task)
    steps = family.budget(family.Params(**settings.task_params), steps)

    return runner.create_run(
        store,
        agent=settings.agent,
        task=settings.task,
        config=settings.config,
        task_params=settings.task_params,
        seed=seed,
        total_steps=steps,
        name=name,
        init_from=init_from,
        init_checkpoint=init_checkpoint,
        device=device,
        agent_sha256=settings.agent_sha256,
        queue=queue,
        retries=retries,
    )


def check_name(name: str | None) -> None:
    """Refuse a run name with control characters: an escape sequence in a name would
    drive the terminal of whoever lists runs."""
    if name is not None and any(unicodedata.category(char) == "Cc" for char in name):
        from envs.config import ConfigError

        raise ConfigError(f"--name {name!r}: no control characters (tabs, escapes)", field="name")


def start_background(store: Store, run_id: int) -> int:
    """Start a worker process for the queued run ``run_id``; return its pid. The process
    outlives the caller and is reaped while the caller lives."""
    return worker.launch(store, run_id)


def train_foreground(
    store: Store,
    run_id: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop_event: threading.Event | None = None,
) -> RunRecord:
    """Train the queued run ``run_id`` in this process until it completes, is stopped
    (``stop_event`` set, or `runs stop`) or fails; return its final row. A
    KeyboardInterrupt stops it without a new checkpoint and is not re-raised."""
    from workbench import runner

    return runner.execute(store, run_id, on_progress=on_progress, stop_event=stop_event)


def stop_run(store: Store, run_id: int, *, wait: float = 10.0) -> RunRecord:
    """Stop a queued or running run (it checkpoints first) and wait up to ``wait`` seconds
    for its worker to say so; the row returned is still ``running`` if it had not yet.
    Raises StoreError when the run is not active."""
    run = store.get_run(run_id)
    if run.status not in ACTIVE:
        raise StoreError(f"run {run_id} is {run.status}, not running; nothing to stop")
    return worker.stop(store, run_id, wait=wait)


def resume_run(store: Store, run_id: int) -> RunRecord:
    """Continue a stopped, failed or lost run from its last checkpoint in a worker
    process; return its queued row. Raises StoreError for any other status, and a
    ConfigError when the run's plug-in agent's source changed (``check_agent_source``)."""
    check_agent_source(store.get_run(run_id))
    return worker.resume(store, run_id)


def check_agent_source(run: RunRecord) -> None:
    """Refuse, in one line, to resume a run of a plug-in agent whose source file is not the
    one the run started with: its checkpoint was written by other code."""
    if run.agent_sha256 is None:
        return
    from agents.registry import get_agent
    from envs.config import ConfigError
    from workbench.plugins import source_sha256

    spec = get_agent(run.agent)
    now = source_sha256(spec.source_file) if spec.source_file else None
    if now != run.agent_sha256:
        raise ConfigError(
            f"run {run.id}: the source of agent {run.agent} ({spec.source_file}) changed since "
            f"the run started (sha256 {run.agent_sha256[:12]}, now {(now or 'unreadable')[:12]}); "
            "restore that file to resume, or start a new run",
            field="agent",
        )


def delete_run(store: Store, run_id: int) -> RunRecord:
    """Delete a run that is not active, with its metrics, checkpoints (last and best),
    copied initial weights and log; return the row it had."""
    return store.delete_run(run_id)


@dataclass(frozen=True)
class Export:
    """A run's metrics as text: one row per logged step, one column per metric key."""

    text: str
    steps: int
    keys: int


def export_run(store: Store, run_id: int, format: str = "csv") -> Export:
    """A run's metrics as CSV or JSON (the JSON carries the run's row under "run")."""
    if format not in EXPORT_FORMATS:
        raise UserError(f"--format must be csv or json, got {format!r}", field="format")
    run = store.get_run(run_id)
    if format == "csv":
        return Export(*metrics_csv(store, run_id))
    return Export(*metrics_json(store, run_id, run_json(run)))


def export_run_to(store: Store, run_id: int, path: Path, format: str = "csv") -> Export:
    """Write ``export_run`` to ``path`` (its folder is created)."""
    exported = export_run(store, run_id, format)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(exported.text)
    return exported


def export_runs(store: Store, run_ids: list[int], format: str, output: Path | None) -> LongExport:
    """Many runs' metrics in long format (csv, json, parquet) to ``output`` or as text,
    or as TensorBoard event files under the folder ``output``, one sub-directory per run."""
    if format not in export.FORMATS:
        raise UserError(
            f"--format must be one of {', '.join(export.FORMATS)}, got {format!r}", field="format"
        )
    if not run_ids:
        raise UserError("give one or more run ids (`workbench runs ls`)", field="run")
    runs = store.get_runs(run_ids)
    missing = sorted(set(run_ids) - {run.id for run in runs})
    if missing:
        raise StoreError(f"no run {', '.join(map(str, missing))}; `workbench runs ls` lists them")
    if format == "tensorboard":
        if output is None:
            raise UserError(
                "tensorboard writes a folder: give it with --output DIR", field="output"
            )
        if output.exists() and not output.is_dir():
            raise UserError(
                f"--output {output} is a file; tensorboard needs a folder", field="output"
            )
        return export.export_tensorboard(store, runs, output)
    return export.export_long(store, runs, format, output, [run_json(run) for run in runs])


def run_json(run: RunRecord) -> dict[str, Any]:
    """The JSON form of a run (`runs ls --json`, `runs show --json`, exports): its row,
    its progress, and its best evaluation (None before the first)."""
    return run.to_json() | {
        "progress": run.steps_done / run.total_steps,
        "stalled_seconds": run.stalled_for(),
        "best_eval_return_mean": run.summary.get("best_eval_return_mean"),
        "best_eval_step": run.summary.get("best_eval_step"),
    }


def check_checkpoint(checkpoint: str, *, option: str = "--checkpoint") -> str:
    """``checkpoint`` if it names one (last or best); else a UserError naming ``option``."""
    if checkpoint not in CHECKPOINTS:
        raise UserError(
            f"{option} must be last or best, got {checkpoint!r}", field=option.lstrip("-")
        )
    return checkpoint
