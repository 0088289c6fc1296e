"""Runs training: builds a run's agent, drives its learn() loop into the store, and
starts, stops and resumes the background worker processes that do it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.common.base import EVAL_KEYS, RETURN_KEYS, Agent, Report
from agents.registry import get_agent
from envs.config import build
from envs.registry import get_task
from workbench.store import HEARTBEAT_INTERVAL, RunRecord, Store, StoreError

CHECKPOINT_EVERY_STEPS = 10_000
CHECKPOINT_MIN_SECONDS = 5.0
"""Fast agents cross 10k steps in a fraction of a second; checkpoints wait at least this."""
CHECKPOINT_EVERY_SECONDS = 30.0
FLUSH_EVERY_SECONDS = 0.5
STOP_CHECK_SECONDS = 0.25


@dataclass
class Progress:
    """What a caller watching a run in this process sees after each report."""

    run: RunRecord
    step: int
    steps_per_second: float
    recent_return: float | None
    summary: dict[str, Any] = field(default_factory=dict)


def build_agent(run: RunRecord) -> Agent:
    return make_agent(run.agent, run.task, run.config, run.task_params, run.seed)


def make_agent(
    agent: str, task: str, config: dict[str, Any], task_params: dict[str, Any], seed: int
) -> Agent:
    spec = get_agent(agent)
    family = get_task(task)
    return spec.make(
        build(spec.config, config, owner=agent),
        family,
        build(family.Params, task_params, owner=task),
        seed,
    )


def load_trained(store: Store, run: RunRecord) -> Agent:
    """The run's agent with the weights of its last checkpoint, for evaluation."""
    agent = build_agent(run)
    agent.load_state_dict(last_checkpoint(store, run))
    return agent


def last_checkpoint(store: Store, run: RunRecord) -> dict[str, Any]:
    """The state saved in the run's last checkpoint."""
    for _ in range(5):
        if not run.checkpoint_path:
            break
        try:
            return torch.load(run.checkpoint_path, weights_only=True)
        except FileNotFoundError:
            # A running worker replaced that checkpoint after we read its path: read again.
            run = store.get_run(run.id)
    raise StoreError(f"run {run.id} has no checkpoint yet; wait for it to train or resume it")


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
) -> int:
    """Queue a run; with ``init_from``, its networks start from that run's last checkpoint
    (copied now, so the source may train on or be deleted)."""
    init_path = None
    if init_from is not None:
        init_path = save_init_weights(store, init_from, agent, task, config, task_params)
    try:
        return store.create_run(
            agent=agent,
            task=task,
            config=config,
            task_params=task_params,
            seed=seed,
            total_steps=total_steps,
            name=name,
            init_from=init_from,
            init_path=str(init_path) if init_path else None,
        )
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
) -> Path:
    """Copy the network weights of run ``source_id``'s last checkpoint for a new run of
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
        target.load_weights(last_checkpoint(store, source))
    except (RuntimeError, KeyError) as err:
        detail = str(err).strip().splitlines()[-1].strip()
        raise StoreError(
            f"run {source_id}'s networks do not fit this {agent} on {task} ({detail}); "
            f"keep the network sizes and the task's observation and action sizes of run "
            f"{source_id}"
        ) from None
    path = store.home / "checkpoints" / f"init-from-{source_id}-{uuid.uuid4().hex[:12]}.pt"
    partial = path.with_suffix(".partial")
    torch.save(target.weights(), partial)
    os.replace(partial, path)
    return path


def run_logger(store: Store, run_id: int) -> tuple[logging.Logger, logging.Handler]:
    """A logger writing to the run's log file in this store; close the handler when done.

    The logger is named by the log file, not only the run id: two stores in one process
    (tests, scripts) each have a run 1.
    """
    path = store.log_path(run_id)
    logger = logging.getLogger(f"workbench.run.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger, handler


class _Heartbeat(threading.Thread):
    """Beats the run's heartbeat from its own connection, even while training is busy."""

    def __init__(self, home: Path, run_id: int) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.home, self.run_id = home, run_id
        self.done = threading.Event()

    def run(self) -> None:
        store = Store(self.home)
        try:
            while not self.done.wait(HEARTBEAT_INTERVAL):
                store.beat(self.run_id)
        finally:
            store.close()


class _Summary:
    """Running summary of a run's reports, stored with the run row."""

    def __init__(self, previous: dict[str, Any]) -> None:
        self.values = dict(previous)
        self.recent = deque(maxlen=20)

    def update(self, report: Report) -> None:
        scalars = report.scalars
        for key in RETURN_KEYS:
            if key in scalars:
                value = scalars[key]
                self.recent.append(value)
                self.values["last_return"] = value
                self.values["best_return"] = max(value, self.values.get("best_return", value))
        for key in EVAL_KEYS:
            if key in scalars:
                self.values["eval_return_mean"] = scalars[key]
                for spread in ("std", "ci95"):
                    if f"{key}_{spread}" in scalars:
                        self.values[f"eval_return_{spread}"] = scalars[f"{key}_{spread}"]
                self.values["eval_step"] = report.step

    @property
    def recent_return(self) -> float | None:
        return float(np.mean(self.recent)) if self.recent else None


def execute(
    store: Store,
    run_id: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop_event: threading.Event | None = None,
) -> RunRecord:
    """Train a queued run in this process until done, stopped or failed; return its row.

    Metrics go to the store in batches; a checkpoint is taken every
    CHECKPOINT_EVERY_STEPS steps (at most every CHECKPOINT_MIN_SECONDS), at least every
    CHECKPOINT_EVERY_SECONDS, and when stopping.
    """
    if not store.claim(run_id, os.getpid()):
        run = store.get_run(run_id)
        raise StoreError(f"run {run_id} is {run.status}, not queued; another worker has it")
    run = store.get_run(run_id)
    log, log_handler = run_logger(store, run_id)
    torch.set_num_threads(int(os.environ.get("WORKBENCH_TORCH_THREADS", "1")))
    heartbeat = _Heartbeat(store.home, run_id)
    heartbeat.start()
    stop_event = stop_event or threading.Event()
    pending: list[tuple[str, int, float]] = []
    summary = _Summary(run.summary)
    step = run.checkpoint_step
    checkpoint_step, checkpoint_time = step, time.monotonic()
    agent: Agent | None = None
    stored_rows = 0

    def flush(checkpoint: bool = False) -> None:
        nonlocal checkpoint_step, checkpoint_time, stored_rows
        saved = None
        if checkpoint and agent is not None:
            saved = (str(_save_checkpoint(store, run_id, agent, step)), step)
            checkpoint_step, checkpoint_time = step, time.monotonic()
        store.write_metrics(run_id, pending, step, checkpoint=saved, summary=summary.values)
        stored_rows += len(pending)
        pending.clear()
        if saved:
            _remove_old_checkpoints(store, run_id, keep=Path(saved[0]))
            log.info("checkpoint at step %d", step)

    try:
        agent = build_agent(run)
        if run.checkpoint_path and run.checkpoint_step > 0:
            agent.load_state_dict(torch.load(run.checkpoint_path, weights_only=True))
            log.info("resumed from checkpoint at step %d", run.checkpoint_step)
        else:
            if run.init_path:
                agent.load_weights(torch.load(run.init_path, weights_only=True))
                log.info("networks start from the weights of run %s", run.init_from)
            log.info(
                "started %s on %s, %d steps, seed %d, config %s",
                run.agent,
                run.task,
                run.total_steps,
                run.seed,
                run.config,
            )
        start_time, start_step = time.monotonic(), step
        last_flush = last_stop_check = last_log = start_time
        stopping = False
        for report in agent.learn(run.total_steps):
            step = report.step
            pending.extend((key, step, float(value)) for key, value in report.scalars.items())
            summary.update(report)
            now = time.monotonic()
            speed = (step - start_step) / max(now - start_time, 1e-9)
            summary.values["steps_per_second"] = speed
            if on_progress is not None:
                on_progress(Progress(run, step, speed, summary.recent_return, summary.values))
            if now - last_stop_check >= STOP_CHECK_SECONDS:
                last_stop_check = now
                stopping = stop_event.is_set() or store.stop_requested(run_id)
            if stopping:
                break
            since_checkpoint = now - checkpoint_time
            if (
                step - checkpoint_step >= CHECKPOINT_EVERY_STEPS
                and since_checkpoint >= CHECKPOINT_MIN_SECONDS
            ) or since_checkpoint >= CHECKPOINT_EVERY_SECONDS:
                flush(checkpoint=True)
                last_flush = now
            elif now - last_flush >= FLUSH_EVERY_SECONDS:
                flush()
                last_flush = now
            if now - last_log >= 10.0:
                last_log = now
                log.info(
                    "step %d/%d  %.0f steps/s  recent return %s",
                    step,
                    run.total_steps,
                    speed,
                    _fmt(summary.recent_return),
                )
        flush(checkpoint=step != checkpoint_step)
        status = "stopped" if stopping else "completed"
        store.finish(run_id, status, summary=summary.values)
        if stopping:
            log.info("stopped at step %d", step)
        else:
            log.info("completed: eval return %s", eval_text(summary.values))
    except KeyboardInterrupt:
        # Forced mid-update: the agent may be half-way through a step, so no checkpoint
        # is taken; the run resumes from the last one.
        flush()
        store.finish(run_id, "stopped", summary=summary.values)
        log.info("interrupted at step %d; resumes from step %d", step, checkpoint_step)
    except Exception as err:
        log.exception("failed at step %d", step)
        try:
            flush()  # keep what was logged; it is after the checkpoint and replaced on resume
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pending.clear()
        store.finish(run_id, "failed", error=f"{type(err).__name__}: {err}")
    finally:
        heartbeat.done.set()
        heartbeat.join()
        log.info("stored %d metric rows in this session", stored_rows)
        log.removeHandler(log_handler)
        log_handler.close()
    return store.get_run(run_id)


def eval_text(summary: dict[str, Any]) -> str:
    """A summary's evaluation with its spread: '500.00 ± 0.00 (std)' over episodes, or
    '6.64 ± 0.10 (95% CI)' over held-out tasks."""
    if "eval_return_mean" not in summary:
        return "-"
    text = f"{summary['eval_return_mean']:.2f}"
    if "eval_return_ci95" in summary:
        return f"{text} ± {summary['eval_return_ci95']:.2f} (95% CI)"
    if "eval_return_std" in summary:
        return f"{text} ± {summary['eval_return_std']:.2f} (std)"
    return text


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _save_checkpoint(store: Store, run_id: int, agent: Agent, step: int) -> Path:
    """Write the agent's state to a new file named by its step (atomic rename).

    The store points at the previous file until the new one is committed, so a crash in
    between leaves a consistent pair.
    """
    path = store.home / "checkpoints" / f"run-{run_id}-step-{step}.pt"
    partial = path.with_suffix(".partial")
    torch.save(agent.state_dict(), partial)
    os.replace(partial, path)
    return path


def _remove_old_checkpoints(store: Store, run_id: int, keep: Path) -> None:
    for old in (store.home / "checkpoints").glob(f"run-{run_id}-step-*.pt"):
        if old != keep:
            old.unlink(missing_ok=True)


# --- background workers -----------------------------------------------------------------
def launch(store: Store, run_id: int) -> int:
    """Start a worker process for a queued run, detached from this one; return its pid."""
    with open(store.log_path(run_id), "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench.worker", str(run_id), "--home", str(store.home)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the CLI or TUI that started it
            close_fds=True,
        )
    store.set_launch_pid(run_id, process.pid)
    return process.pid


def stop(store: Store, run_id: int, *, wait: float = 10.0) -> RunRecord:
    """Ask a run to stop and wait until its worker has checkpointed and said so."""
    run = store.request_stop(run_id)
    if run.status == "running" and run.pid and run.host == store.host:
        try:
            os.kill(run.pid, signal.SIGTERM)  # wakes a worker between two reports
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        run = store.get_run(run_id)
    return run


def resume(store: Store, run_id: int) -> RunRecord:
    """Queue a stopped, failed or lost run again and start its worker."""
    store.requeue(run_id)
    launch(store, run_id)
    return store.get_run(run_id)
