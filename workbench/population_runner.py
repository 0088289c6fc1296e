"""Trains populations in this process: P runs of one agent as one ``Population``
(agents/common/population.py), each member still its own run (metrics, checkpoints,
best checkpoint, log file, status).

``execute_population`` is ``runner.execute`` for many runs and keeps its guarantees per
member: claimed rows, one Heartbeat thread for every member still running (a killed
process leaves them all ``lost``), metrics buffered and flushed per member, checkpoints
when the one CheckpointPolicy says so (members advance in lockstep), saved atomically
with their hash and committed with the member's metrics up to them.

Stopping: the stop event (Ctrl+C, SIGTERM) stops every member with a checkpoint. A member
asked alone (its row's flag from ``runs stop ID``, read for all members at once every
STOP_CHECK_SECONDS, or ``member_stop(run_id)``, e.g. a study pruning it) is checkpointed
and ``stopped`` at the next report; the others go on as a population of the rest
(``select``), from their states but on fresh episodes, as after a resume. With every
member stopped, training ends.

Resuming: members at different checkpoint steps cannot share a lockstep population, so
runs are grouped (agent, task, budget, device, shared config fields, checkpoint step)
and the groups train one after another, all claimed and beating from the start.

A member that raises fails its group (one computation): each member ``failed`` with the
error; the next group trains. A write the machine refuses (disk full, read-only) fails
every unfinished member and raises ``StoreUnusable``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from agents.common.base import Report
from agents.common.population import Population, check_members, select, shared_fields
from agents.registry import get_agent
from envs.config import ConfigError, restore
from envs.registry import get_task
from workbench import checkpoints
from workbench.format import fixed
from workbench.run_loop import (
    FLUSH_EVERY_SECONDS,
    LOG_EVERY_SECONDS,
    STOP_CHECK_SECONDS,
    CheckpointPolicy,
    Heartbeat,
    Interval,
    MetricBuffer,
    Summary,
    run_logger,
)
from workbench.runner import Progress, eval_text
from workbench.stopping import sigterm_sets
from workbench.store import RunRecord, Store, StoreError, StoreUnusable


@dataclass
class Member:
    """One member's run while it trains: its row, log and metric buffer."""

    run: RunRecord
    log: logging.Logger
    buffer: MetricBuffer


def execute_population(
    store: Store,
    run_ids: Sequence[int],
    *,
    on_progress: Callable[[int, Progress], None] | None = None,
    stop_event: threading.Event | None = None,
    member_stop: Callable[[int], bool] | None = None,
) -> list[RunRecord]:
    """Train the queued runs ``run_ids`` as populations in this process until each is
    done, stopped or failed; return their rows in the order given.

    ``on_progress(run_id, progress)`` after each report, per member; ``member_stop(run_id)``
    True stops that member alone (checked at every report); ``stop_event`` stops all.
    """
    ids = list(dict.fromkeys(run_ids))
    runs = store.get_runs(ids)
    if missing := set(ids) - {run.id for run in runs}:
        raise StoreError(f"no run with id {min(missing)}; `workbench runs ls` lists the runs")
    try:
        for run in runs:
            if get_agent(run.agent).population is None:
                raise ConfigError(f"run {run.id}: agent {run.agent} has no population form")
        groups = _groups(runs)
    except ConfigError as err:
        for run in runs:
            store.fail_unclaimed(run.id, str(err))
        raise
    handlers: dict[int, logging.Handler] = {}
    logs: dict[int, logging.Logger] = {}
    try:
        for run in runs:
            logs[run.id], handlers[run.id] = run_logger(store, run.id)
    except StoreUnusable as err:
        for run in runs:
            store.fail_unclaimed(run.id, str(err))
        _close(logs, handlers)
        raise
    requested, ids = ids, store.claim_all(ids, os.getpid())
    unclaimed = [run_id for run_id in requested if run_id not in ids]
    for run_id in unclaimed:  # e.g. stopped while queued: not trained, not ours to write
        logs[run_id].info("not trained: it was %s, not queued", store.get_run(run_id).status)
    _close({i: logs.pop(i) for i in unclaimed}, {i: handlers.pop(i) for i in unclaimed})
    if not ids:
        run = store.get_run(requested[0])
        raise StoreError(f"run {run.id} is {run.status}, not queued; another worker has it")
    for run_id in ids:
        checkpoints.remove_partial_files(store, run_id)
    checkpoints.keep_reserve(store)
    torch.set_num_threads(int(os.environ.get("WORKBENCH_TORCH_THREADS", "1")))
    stop_event = stop_event or threading.Event()
    stored = dict.fromkeys(ids, 0)
    try:
        with Heartbeat(store.home, ids), sigterm_sets(stop_event):
            groups = [[run for run in group if run.id in logs] for group in groups]
            groups = [group for group in groups if group]
            for number, group in enumerate(groups):
                members = [Member(run, logs[run.id], _buffer(store, run)) for run in group]
                try:
                    if stop_event.is_set():
                        for member in members:  # never started: stopped at their checkpoint
                            _finish(store, member, "stopped")
                        continue
                    trainer = _GroupTrainer(store, members, stop_event, on_progress, member_stop)
                    trainer.train()
                except KeyboardInterrupt:
                    _forced(store, [run for g in groups[number:] for run in g], logs)
                    break
                except StoreUnusable:
                    _fail_unfinished(store, [r for g in groups[number + 1 :] for r in g])
                    raise
                finally:
                    for member in members:
                        stored[member.run.id] += member.buffer.stored_rows
    finally:
        for run_id, log in logs.items():
            log.info("stored %d metric rows in this session", stored[run_id])
        _close(logs, handlers)
    rows = {run.id: run for run in store.get_runs(requested)}
    return [rows[run_id] for run_id in requested]


def _buffer(store: Store, run: RunRecord) -> MetricBuffer:
    return MetricBuffer(store, run.id, Summary(run.summary), step=run.checkpoint_step)


def _groups(runs: list[RunRecord]) -> list[list[RunRecord]]:
    """The runs that can train as one lockstep population, grouped in first-seen order."""
    groups: dict[str, list[RunRecord]] = {}
    for run in runs:
        spec = get_agent(run.agent)
        config = restore(spec.config, run.config, owner=run.agent).to_dict()  # defaults in
        shared = {name: config[name] for name in shared_fields(spec.config)}
        where = [run.agent, run.task, run.task_params, run.total_steps, run.device or "cpu"]
        key = json.dumps([*where, shared], sort_keys=True)
        groups.setdefault(f"{key}/{run.checkpoint_step}", []).append(run)
    return list(groups.values())


class _GroupTrainer:
    """One group's population, from its build (and checkpoints) to every member's end."""

    def __init__(
        self,
        store: Store,
        members: list[Member],
        stop_event: threading.Event,
        on_progress: Callable[[int, Progress], None] | None,
        member_stop: Callable[[int], bool] | None,
    ) -> None:
        self.store, self.members, self.stop_event = store, members, stop_event
        self.on_progress, self.member_stop = on_progress, member_stop
        first = members[0].run
        self.total_steps, self.device = first.total_steps, first.device or "cpu"
        self.policy = CheckpointPolicy.from_environment(first.checkpoint_step, time.monotonic())

    def train(self) -> None:
        """Build the population, train it to its end, then the last checkpoints. A member
        that raises fails them all; a second Ctrl+C flushes and passes through."""
        try:
            self.population = self._build()  # None: no member's checkpoint loaded
            while self.members and self._learn():
                pass  # some members stopped alone: the rest go on
            for index, member in enumerate(self.members):
                if member.buffer.step != self.policy.step:
                    _checkpoint(self.store, member, self.population.member_state(index))
                else:
                    member.buffer.flush()
                _finish(self.store, member, "stopped" if self.stop_event.is_set() else "completed")
        except KeyboardInterrupt:
            for member in self.members:
                member.buffer.flush()
            raise
        except Exception as err:
            fault = checkpoints.environment_fault(self.store, err, self.members[0].run.id)
            for member in self.members:
                _fail(self.store, member, err, fault)
            if fault is not None:
                raise StoreUnusable(fault) from None

    def _build(self) -> Population | None:
        """The population of the members whose checkpoint loads (each from it, or new and
        from the networks it was told to start from). A member whose checkpoint is damaged
        or missing fails alone, with the file named, and the others train."""
        first = self.members[0].run
        self.spec, self.family = get_agent(first.agent), get_task(first.task)
        self.params = restore(self.family.Params, first.task_params, owner=first.task)
        states: dict[int, dict[str, Any]] = {}
        for member in list(self.members):
            run = member.run
            if not (run.checkpoint_path and run.checkpoint_step > 0):
                continue
            try:
                local = self.store.local_file(run.checkpoint_path)  # fetched when shared
                states[run.id] = checkpoints.load_checkpoint_file(local)
            except (checkpoints.DamagedCheckpoint, FileNotFoundError) as err:
                detail = "is missing" if isinstance(err, FileNotFoundError) else str(err)
                error = (
                    f"checkpoint {run.checkpoint_path} {detail}; `workbench runs resume "
                    f"{run.id}` goes back to the previous checkpoint"
                )
                member.log.error("failed at step %d: %s", run.checkpoint_step, error)
                self.store.finish(run.id, "failed", error=error)
                self.members.remove(member)
        if not self.members:
            return None
        configs = [restore(self.spec.config, m.run.config, owner=m.run.agent) for m in self.members]
        check_members(configs)
        seeds = [m.run.seed for m in self.members]
        population = self.spec.population(configs, self.family, self.params, seeds, self.device)
        for index, member in enumerate(self.members):
            run = member.run
            if run.id in states:
                population.load_member_state(index, states.pop(run.id))
                member.log.info("resumed from checkpoint at step %d", run.checkpoint_step)
                continue
            if run.init_path:
                weights = checkpoints.load_checkpoint_file(self.store.local_file(run.init_path))
                population.load_member_weights(index, weights)
                member.log.info("networks start from the weights of run %s", run.init_from)
            where = f"member {index + 1} of {len(self.members)} (population {run.population})"
            member.log.info(
                "started %s on %s, %d steps, seed %d, %s, config %s",
                *(run.agent, run.task, run.total_steps, run.seed, where, run.config),
            )
        return population

    def _learn(self) -> bool:
        """Drive ``learn`` of ``self.population``. False when it ends or the stop event is
        set; True when some members were asked to stop alone: they are checkpointed and
        stopped, and ``self.population`` is now the rest's, to go on."""
        population = self.population
        start_time, start_step = time.monotonic(), population.steps_done
        flush_timer = Interval(FLUSH_EVERY_SECONDS, start_time)
        log_timer = Interval(LOG_EVERY_SECONDS, start_time)
        flag_timer = Interval(STOP_CHECK_SECONDS, start_time - STOP_CHECK_SECONDS)
        for report in population.learn(self.total_steps, tick_seconds=STOP_CHECK_SECONDS):
            now = time.monotonic()
            speed = (report.step - start_step) / max(now - start_time, 1e-9)
            for index, member in enumerate(self.members):
                scalars = {} if report.tick else report.scalars[index]
                if member.buffer.add(Report(report.step, scalars, report.tick)):
                    weights = population.member_weights(index)
                    path = checkpoints.save_best_weights(self.store, member.run.id, weights)
                    member.buffer.best = (str(path), report.step)
                member.buffer.summary.values["steps_per_second"] = speed
                if self.on_progress is not None and not report.tick:
                    summary = member.buffer.summary
                    progress = Progress(
                        member.run, report.step, speed, summary.recent_return, summary.values
                    )
                    self.on_progress(member.run.id, progress)
            if self.stop_event.is_set():
                where = " inside an update" if report.tick else ""
                for member in self.members:
                    member.log.info("stopped at step %d%s", report.step, where)
                return False
            # A member stops alone only at a report, between updates: the others' update
            # is complete when they go on without it.
            if not report.tick and (asked := self._asked_to_stop(flag_timer.due(now))):
                return self._without(asked, report.step)
            if not report.tick and self.policy.due(report.step, now):
                for index, member in enumerate(self.members):
                    _checkpoint(self.store, member, population.member_state(index))
                self.policy.taken(report.step, now)
                flush_timer.restart(now)
            elif flush_timer.due(now):
                for member in self.members:
                    member.buffer.flush()
            if log_timer.due(now):
                for member in self.members:
                    member.log.info(
                        "step %d/%d  %.0f steps/s  recent return %s",
                        report.step,
                        self.total_steps,
                        speed,
                        fixed(member.buffer.summary.recent_return, 1),
                    )
        return False

    def _asked_to_stop(self, read_flags: bool) -> set[int]:
        """Indices of the members asked to stop alone: their row's flag (read when
        ``read_flags``) or ``member_stop``."""
        ids = [member.run.id for member in self.members]
        flagged = self.store.stop_flags(ids) if read_flags else set()
        if self.member_stop is not None:
            flagged |= {run_id for run_id in ids if self.member_stop(run_id)}
        return {index for index, run_id in enumerate(ids) if run_id in flagged}

    def _without(self, asked: set[int], step: int) -> bool:
        """Checkpoint and stop the members ``asked``; the others go on as a population of
        their own (``select``: from their states, on fresh episodes). False when none is
        left."""
        population = self.population
        for index in sorted(asked):
            member = self.members[index]
            member.log.info("stopped at step %d (this member alone)", step)
            _checkpoint(self.store, member, population.member_state(index))
            _finish(self.store, member, "stopped")
        kept = [index for index in range(len(self.members)) if index not in asked]
        self.members = [self.members[index] for index in kept]
        if not kept:
            return False
        self.population = select(population, kept, self.family, self.params, self.device)
        self.population.steps_done = population.steps_done
        for member in self.members:
            member.log.info("goes on at step %d without the stopped members", step)
        return True


def _checkpoint(store: Store, member: Member, state: dict[str, Any]) -> None:
    """Save a member's state at its buffer's step and commit it with its metrics up to it;
    drop older checkpoint files (as runner._checkpoint does for a lone run)."""
    run_id, step = member.run.id, member.buffer.step
    path, sha256 = checkpoints.save_state(store, run_id, state, step)
    member.buffer.flush(checkpoint=(str(path), step, sha256))
    run = store.get_run(run_id)
    checkpoints.remove_old_checkpoints(
        store, run_id, keep={run.checkpoint_path, run.previous_checkpoint_path}
    )
    member.log.info("checkpoint at step %d", step)


def _finish(store: Store, member: Member, status: str) -> None:
    store.finish(member.run.id, status, summary=member.buffer.summary.values)
    if status == "completed":
        member.log.info("completed: eval return %s", eval_text(member.buffer.summary.values))


def _forced(store: Store, runs: list[RunRecord], logs: dict[int, logging.Logger]) -> None:
    """A second Ctrl+C: every unfinished member stops without a new checkpoint (the
    population may be half-way through a step) and resumes from its last."""
    for run in store.get_runs([run.id for run in runs]):
        if run.status != "running":
            continue
        store.finish(run.id, "stopped")
        logs[run.id].info(
            "forced to stop at step %d; resumes from step %d", run.steps_done, run.checkpoint_step
        )


def _fail(store: Store, member: Member, err: Exception, fault: str | None) -> None:
    """Mark a member failed with the population's error, keeping what it logged."""
    if fault is None:
        member.log.exception("failed at step %d", member.buffer.step)
    else:
        member.log.error("failed at step %d: %s", member.buffer.step, fault)
    checkpoints.remove_partial_files(store, member.run.id)
    if fault is not None:
        (store.home / checkpoints.RESERVE_NAME).unlink(missing_ok=True)
    try:
        member.buffer.flush()  # kept; after the checkpoint, so replaced on resume
    except Exception:  # noqa: BLE001 - the original error is the one to report
        member.buffer.discard()
    store.finish(member.run.id, "failed", error=fault or f"{type(err).__name__}: {err}")


def _fail_unfinished(store: Store, runs: list[RunRecord]) -> None:
    """Groups not trained because the machine refused a write: failed, resumable (if even
    that write fails, the rows stay running until readers see them lost: resumable too)."""
    with contextlib.suppress(Exception):
        for run in runs:
            store.finish(run.id, "failed", error="not trained: an earlier group's write failed")


def _close(logs: dict[int, logging.Logger], handlers: dict[int, logging.Handler]) -> None:
    for run_id, handler in handlers.items():
        logs[run_id].removeHandler(handler)
        handler.close()
