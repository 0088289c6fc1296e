"""Runs training: builds a run's agent and drives its learn() loop into the store, with
its checkpoints (the last and the best evaluation's) and heartbeat.

The background processes that call it are started, stopped and resumed by
``workbench.worker`` (re-exported here as ``launch``, ``stop``, ``resume``)."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from agents.common.base import Agent
from agents.registry import get_agent
from envs.config import restore
from envs.registry import get_task
from workbench import checkpoints
from workbench.database import OperationalError
from workbench.format import fixed
from workbench.run_loop import (
    FLUSH_EVERY_SECONDS,
    LOG_EVERY_SECONDS,
    STOP_CHECK_SECONDS,
    CheckpointPolicy,
    Heartbeat,
    Interval,
    MetricBuffer,
    StopPoll,
    Summary,
    run_logger,
)
from workbench.stopping import sigterm_sets
from workbench.store import (
    RunRecord,
    Store,
    StoreError,
    StoreUnusable,
    write_refused,
)
from workbench.worker import launch, resume, stop

__all__ = ["launch", "resume", "stop"]  # background workers, kept here for older callers


@dataclass
class Progress:
    """What a caller watching a run in this process sees after each report."""

    run: RunRecord
    step: int
    steps_per_second: float
    recent_return: float | None
    summary: dict[str, Any] = field(default_factory=dict)


def build_agent(run: RunRecord) -> Agent:
    return make_agent(run.agent, run.task, run.config, run.task_params, run.seed, run.device)


def make_agent(
    agent: str,
    task: str,
    config: dict[str, Any],
    task_params: dict[str, Any],
    seed: int,
    device: str | None = None,
) -> Agent:
    """The agent of a run, on ``device`` (cpu or cuda, resolved; None: cpu)."""
    spec = get_agent(agent)
    family = get_task(task)
    extra = {"device": device} if device else {}
    return spec.make(
        restore(spec.config, config, owner=agent),
        family,
        restore(family.Params, task_params, owner=task),
        seed,
        **extra,
    )


def load_trained(store: Store, run: RunRecord, checkpoint: str = "last") -> Agent:
    """The run's agent with the weights of its last (or best) checkpoint, for evaluation."""
    agent = build_agent(run)
    if checkpoint == "best":
        agent.load_weights(checkpoints.read_checkpoint(store, run, "best"))
    else:
        agent.load_state_dict(checkpoints.read_checkpoint(store, run, "last"))
    return agent


def create_run(
    store: Store,
    *,
    agent: str,
    task: str,
    config: dict[str, Any],
    task_params: dict[str, Any],
    seed: int,
    total_steps: int,
    name: str | None = None,
    init_from: int | None = None,
    init_checkpoint: str = "last",
    device: str | None = None,
    agent_sha256: str | None = None,
    queue: str | None = None,
    retries: int = 0,
) -> int:
    """Queue a run (``queue="any"``: for any ``workbench worker``, with ``retries``
    automatic retries when lost); with ``init_from``, its networks start from that run's
    last (or, with ``init_checkpoint="best"``, best) checkpoint, copied now, so the source
    may train on or be deleted."""
    init_path = None
    if init_from is not None:
        init_path = save_init_weights(
            store, init_from, agent, task, config, task_params, checkpoint=init_checkpoint
        )
    try:
        run_id = store.create_run(
            agent=agent,
            task=task,
            config=config,
            task_params=task_params,
            seed=seed,
            total_steps=total_steps,
            name=name,
            init_from=init_from,
            init_path=str(init_path) if init_path else None,
            init_checkpoint=init_checkpoint if init_from is not None else None,
            device=device,
            agent_sha256=agent_sha256,
            queue=queue,
            retries=retries,
        )
        if init_path:
            store.put_file(run_id, init_path)  # a shared store: any machine starts it
        return run_id
    except BaseException:
        if init_path:
            init_path.unlink(missing_ok=True)
        raise


def save_init_weights(
    store: Store,
    source_id: int,
    agent: str,
    task: str,
    config: dict[str, Any],
    task_params: dict[str, Any],
    *,
    checkpoint: str = "last",
) -> Path:
    """Copy the network weights of run ``source_id``'s last (or best) checkpoint for a new run of
    ``agent`` with this config to start from (``workbench run --init-from``).

    Only the networks are taken: the new run has its own optimiser, step counter, seed and
    (for DQN) an empty replay buffer. Raises StoreError when the source is another agent,
    has no checkpoint, or its networks do not fit this config.
    """
    source = store.get_run(source_id)
    if source.agent != agent:
        raise StoreError(
            f"run {source_id} trained {source.agent}, not {agent}; "
            f"--init-from needs a run of the same agent"
        )
    target = make_agent(agent, task, config, task_params, seed=0)
    try:
        target.load_weights(checkpoints.read_checkpoint(store, source, checkpoint))
    except (RuntimeError, KeyError) as err:
        detail = str(err).strip().splitlines()[-1].strip()
        raise StoreError(
            f"run {source_id}'s networks do not fit this {agent} on {task} ({detail}); "
            f"keep the network sizes and the task's observation and action sizes of run "
            f"{source_id}"
        ) from None
    path = store.home / "checkpoints" / f"init-from-{source_id}-{uuid.uuid4().hex[:12]}.pt"
    try:
        checkpoints.atomic_save(target.weights(), path)
    except OSError as err:
        raise StoreUnusable(checkpoints.cannot_write(path, err, then="then run again")) from None
    return path


def execute(
    store: Store,
    run_id: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop_event: threading.Event | None = None,
    claimed: bool = False,
) -> RunRecord:
    """Train a queued run in this process until done, stopped or failed; return its row
    (``claimed``: this process has claimed it already, as a pulling worker does).

    Metrics go to the store in batches (MetricBuffer, every FLUSH_EVERY_SECONDS); a
    checkpoint is taken when the CheckpointPolicy says so and when stopping; the best
    evaluation's networks are kept in a file of their own; a StopPoll watches the stop
    event and the store's stop flag at every report and tick (inside long updates); a
    Heartbeat thread beats the whole time; SIGTERM sets the stop event (main thread).
    """
    try:
        log, log_handler = run_logger(store, run_id)
    except StoreUnusable as err:
        if claimed:
            store.finish(run_id, "failed", error=str(err))
        else:
            store.fail_unclaimed(run_id, str(err))  # resumable once the file can be written
        raise
    if not claimed and not store.claim(run_id, os.getpid()):
        log.removeHandler(log_handler)
        log_handler.close()
        run = store.get_run(run_id)
        raise StoreError(f"run {run_id} is {run.status}, not queued; another worker has it")
    run = store.get_run(run_id)
    checkpoints.remove_partial_files(store, run_id)
    checkpoints.keep_reserve(store)
    torch.set_num_threads(int(os.environ.get("WORKBENCH_TORCH_THREADS", "1")))
    stop_event = stop_event or threading.Event()
    buffer = MetricBuffer(store, run_id, Summary(run.summary), step=run.checkpoint_step)
    stop = StopPoll(lambda: stop_event.is_set() or store.stop_requested(run_id))
    policy = CheckpointPolicy.from_environment(run.checkpoint_step, time.monotonic())
    try:
        with Heartbeat(store.home, run_id), sigterm_sets(stop_event):
            try:
                agent = _prepared_agent(store, run, log)
                _train(store, run, agent, buffer, stop, policy, on_progress, log)
                if buffer.step != policy.step:
                    _checkpoint(store, run_id, agent, buffer, log)
                else:
                    buffer.flush()
                _finish(store, run_id, "stopped" if stop.stopping else "completed", buffer, log)
            except KeyboardInterrupt:
                # Forced mid-update: the agent may be half-way through a step, so no
                # checkpoint is taken; the run resumes from the last one.
                buffer.flush()
                store.finish(run_id, "stopped", summary=buffer.summary.values)
                log.info(
                    "forced to stop at step %d; resumes from step %d", buffer.step, policy.step
                )
            except Exception as err:
                fault = checkpoints.environment_fault(store, err, run_id)
                if fault is None:
                    log.exception("failed at step %d", buffer.step)
                else:
                    log.error("failed at step %d: %s", buffer.step, fault)
                # The row's last write needs room: a half-written checkpoint's, and on a
                # full disk the reserve's.
                checkpoints.remove_partial_files(store, run_id)
                if fault is not None:
                    (store.home / checkpoints.RESERVE_NAME).unlink(missing_ok=True)
                try:
                    buffer.flush()  # kept; after the checkpoint, so replaced on resume
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    buffer.discard()
                error = fault or f"{type(err).__name__}: {err}"
                try:
                    store.finish(run_id, "failed", error=error)
                except OperationalError as finish_err:
                    if not write_refused(finish_err):
                        raise
                    # The row stays running; once this process is gone readers mark it
                    # lost, which resumes like failed.
                if fault is not None:
                    raise StoreUnusable(fault) from None
    finally:
        log.info("stored %d metric rows in this session", buffer.stored_rows)
        log.removeHandler(log_handler)
        log_handler.close()
    return store.get_run(run_id)


def _train(
    store: Store,
    run: RunRecord,
    agent: Agent,
    buffer: MetricBuffer,
    stop: StopPoll,
    policy: CheckpointPolicy,
    on_progress: Callable[[Progress], None] | None,
    log: logging.Logger,
) -> None:
    """The learn() loop: buffer each report (saving a new best evaluation's networks),
    then stop, checkpoint, flush or log when each is due. Returns when learn() ends or a
    stop is requested (``stop.stopping``); ``buffer.step`` is the last step reached. A
    tick (the agent inside a long update) has no metrics: a stop there checkpoints the
    update so far; policy checkpoints wait for a report, whose metrics are all in."""
    start_time, start_step = time.monotonic(), buffer.step
    flush_timer = Interval(FLUSH_EVERY_SECONDS, start_time)
    log_timer = Interval(LOG_EVERY_SECONDS, start_time)
    for report in agent.learn(run.total_steps, tick_seconds=STOP_CHECK_SECONDS):
        if buffer.add(report):
            buffer.best = (str(checkpoints.save_best_checkpoint(store, run.id, agent)), report.step)
        now = time.monotonic()
        speed = (report.step - start_step) / max(now - start_time, 1e-9)
        buffer.summary.values["steps_per_second"] = speed
        if on_progress is not None:
            recent = buffer.summary.recent_return
            on_progress(Progress(run, report.step, speed, recent, buffer.summary.values))
        if stop.requested(now):
            where = " inside an update" if report.tick else ""
            log.info("stopped at step %d%s", report.step, where)
            return
        if not report.tick and policy.due(report.step, now):
            _checkpoint(store, run.id, agent, buffer, log)
            policy.taken(report.step, now)
            flush_timer.restart(now)
        elif flush_timer.due(now):
            buffer.flush()
        if log_timer.due(now):
            log.info(
                "step %d/%d  %.0f steps/s  recent return %s",
                report.step,
                run.total_steps,
                speed,
                fixed(buffer.summary.recent_return, 1),
            )


def _prepared_agent(store: Store, run: RunRecord, log: logging.Logger) -> Agent:
    """The run's agent, from its checkpoint when it resumes, else new (and from the
    networks it was told to start from)."""
    agent = build_agent(run)
    if run.checkpoint_path and run.checkpoint_step > 0:
        try:
            agent.load_state_dict(
                checkpoints.load_checkpoint_file(store.local_file(run.checkpoint_path))
            )
        except (checkpoints.DamagedCheckpoint, FileNotFoundError) as err:
            detail = "is missing" if isinstance(err, FileNotFoundError) else str(err)
            raise checkpoints.DamagedCheckpoint(
                f"checkpoint {run.checkpoint_path} {detail}; `workbench runs resume {run.id}` "
                "goes back to the previous checkpoint"
            ) from None
        log.info("resumed from checkpoint at step %d", run.checkpoint_step)
        return agent
    if run.init_path:
        agent.load_weights(checkpoints.load_checkpoint_file(store.local_file(run.init_path)))
        log.info("networks start from the weights of run %s", run.init_from)
    log.info(
        "started %s on %s, %d steps, seed %d, config %s",
        run.agent,
        run.task,
        run.total_steps,
        run.seed,
        run.config,
    )
    return agent


def _checkpoint(
    store: Store, run_id: int, agent: Agent, buffer: MetricBuffer, log: logging.Logger
) -> None:
    """Save the agent at the buffer's step and commit it with the metrics up to it; drop
    older checkpoint files."""
    step = buffer.step
    path, sha256 = checkpoints.save_checkpoint(store, run_id, agent, step)
    buffer.flush(checkpoint=(str(path), step, sha256))
    run = store.get_run(run_id)
    checkpoints.remove_old_checkpoints(
        store, run_id, keep={run.checkpoint_path, run.previous_checkpoint_path}
    )
    log.info("checkpoint at step %d", step)


def _finish(
    store: Store, run_id: int, status: str, buffer: MetricBuffer, log: logging.Logger
) -> None:
    store.finish(run_id, status, summary=buffer.summary.values)
    if status == "completed":
        summary = buffer.summary.values
        log.info("completed: eval return %s", eval_text(summary))
        if "best_eval_return_mean" in summary:
            log.info(
                "best evaluation %s at step %d (kept as the best checkpoint)",
                fixed(summary["best_eval_return_mean"], 2),
                summary["best_eval_step"],
            )


def eval_text(summary: dict[str, Any]) -> str:
    """A summary's evaluation with its spread: '500.00 ± 0.00 (std)' over episodes, or
    '6.64 ± 0.10 (95% CI)' over held-out tasks."""
    if "eval_return_mean" not in summary:
        return "-"
    text = fixed(summary["eval_return_mean"], 2)
    if "eval_return_ci95" in summary:
        return f"{text} ± {fixed(summary['eval_return_ci95'], 2)} (95% CI)"
    if "eval_return_std" in summary:
        return f"{text} ± {fixed(summary['eval_return_std'], 2)} (std)"
    return text
