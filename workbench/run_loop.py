"""The named parts runner.execute (and population_runner) is built from, each testable
alone: the Summary of a run's reports (with its best evaluation), the MetricBuffer and
its flush, the CheckpointPolicy, StopPoll, Interval (flushing and logging), the Heartbeat
thread and the run's log file (``run_logger``).

None of them builds an agent or saves a checkpoint file: the runner does, and hands
them what they need (a store, a run id, reports, times).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.base import EVAL_KEYS, RETURN_KEYS, Report
from workbench import checkpoints
from workbench.database import OperationalError
from workbench.store import HEARTBEAT_INTERVAL, Store, StoreUnusable, write_refused

CHECKPOINT_EVERY_STEPS = 10_000
CHECKPOINT_MIN_SECONDS = 5.0
"""Fast agents cross 10k steps in a fraction of a second; checkpoints wait at least this."""
CHECKPOINT_EVERY_SECONDS = 30.0
FLUSH_EVERY_SECONDS = 0.5
STOP_CHECK_SECONDS = 0.25
LOG_EVERY_SECONDS = 10.0


class Heartbeat(threading.Thread):
    """Beats the run's heartbeat (or every member's of a population, ``run_id`` a list of
    ids, in one statement) from its own connection, even while training is busy.

    A context manager: the thread beats every HEARTBEAT_INTERVAL seconds inside the block.
    Only rows still ``running`` are beaten, so a member that finished stops beating.
    """

    def __init__(
        self, home: Path, run_id: int | Sequence[int], interval: float = HEARTBEAT_INTERVAL
    ) -> None:
        self.run_ids = [run_id] if isinstance(run_id, int) else list(run_id)
        super().__init__(daemon=True, name=f"heartbeat-{self.run_ids[0]}")
        self.home, self.interval = home, interval
        self.done = threading.Event()

    def run(self) -> None:
        store = Store(self.home)
        try:
            while not self.done.wait(self.interval):
                try:
                    store.beat_all(self.run_ids)
                except OperationalError as err:
                    if not write_refused(err):
                        raise
                    # A full or read-only disk: the training loop meets it too and says so.
        finally:
            store.close()

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        self.join()


class Summary:
    """Running summary of a run's reports, stored with the run row."""

    def __init__(self, previous: dict[str, Any]) -> None:
        self.values = dict(previous)
        self.recent: deque[float] = deque(maxlen=20)

    def update(self, report: Report) -> bool:
        """Take in one report; True when it holds an evaluation better than any before
        (higher mean is better), which is then the run's best."""
        scalars = report.scalars
        for key in RETURN_KEYS:
            if key in scalars:
                value = scalars[key]
                self.recent.append(value)
                self.values["last_return"] = value
                self.values["best_return"] = max(value, self.values.get("best_return", value))
        improved = False
        for key in EVAL_KEYS:
            if key in scalars:
                self.values["eval_return_mean"] = scalars[key]
                for spread in ("std", "ci95"):
                    if f"{key}_{spread}" in scalars:
                        self.values[f"eval_return_{spread}"] = scalars[f"{key}_{spread}"]
                self.values["eval_step"] = report.step
                best = self.values.get("best_eval_return_mean")
                if best is None or scalars[key] > best:
                    self.values["best_eval_return_mean"] = scalars[key]
                    self.values["best_eval_step"] = report.step
                    improved = True
        return improved

    @property
    def recent_return(self) -> float | None:
        return float(np.mean(self.recent)) if self.recent else None


class MetricBuffer:
    """Metric rows of one run waiting to be stored; a flush writes them with the run's
    progress and summary (and a new checkpoint, if one was taken) in one transaction."""

    def __init__(self, store: Store, run_id: int, summary: Summary, step: int = 0) -> None:
        self.store, self.run_id, self.summary = store, run_id, summary
        self.step = step
        """The last step added: the run's progress (``steps_done``) at the next flush."""
        self.pending: list[tuple[str, int, float, float]] = []
        """(key, step, value, wall_time) rows: the time is when the report arrived."""
        self.stored_rows = 0
        self.best: tuple[str, int] | None = None
        """A best checkpoint saved since the last flush, (path, step), to record with it."""

    def add(self, report: Report) -> bool:
        """Buffer a report's scalars; True when it is the best evaluation so far."""
        self.step = report.step
        now = time.time()
        self.pending.extend(
            (key, report.step, float(value), now) for key, value in report.scalars.items()
        )
        return self.summary.update(report)

    def flush(self, checkpoint: tuple[str, int] | None = None) -> None:
        self.store.write_metrics(
            self.run_id,
            self.pending,
            self.step,
            checkpoint=checkpoint,
            best=self.best,
            summary=self.summary.values,
        )
        self.stored_rows += len(self.pending)
        self.pending.clear()
        self.best = None

    def discard(self) -> None:
        """Drop what is pending (after a failed write: the run resumes from its checkpoint)."""
        self.pending.clear()


class CheckpointPolicy:
    """When to checkpoint: every ``every_steps`` steps but at most every ``min_seconds``
    (fast agents cross 10k steps in a fraction of a second), and at least every
    ``max_seconds``."""

    def __init__(
        self,
        step: int,
        now: float,
        *,
        every_steps: int = CHECKPOINT_EVERY_STEPS,
        min_seconds: float = CHECKPOINT_MIN_SECONDS,
        max_seconds: float = CHECKPOINT_EVERY_SECONDS,
    ) -> None:
        self.step, self.time = step, now
        self.every_steps, self.min_seconds, self.max_seconds = every_steps, min_seconds, max_seconds

    @classmethod
    def from_environment(cls, step: int, now: float) -> CheckpointPolicy:
        """The policy, with ``WORKBENCH_CHECKPOINT_STEPS`` and
        ``WORKBENCH_CHECKPOINT_MIN_SECONDS`` (when set) in place of the defaults: how
        tests and fault drills make a short run checkpoint often."""
        env = os.environ
        return cls(
            step,
            now,
            every_steps=int(env.get("WORKBENCH_CHECKPOINT_STEPS", CHECKPOINT_EVERY_STEPS)),
            min_seconds=float(env.get("WORKBENCH_CHECKPOINT_MIN_SECONDS", CHECKPOINT_MIN_SECONDS)),
        )

    def due(self, step: int, now: float) -> bool:
        elapsed = now - self.time
        by_steps = step - self.step >= self.every_steps and elapsed >= self.min_seconds
        return by_steps or elapsed >= self.max_seconds

    def taken(self, step: int, now: float) -> None:
        self.step, self.time = step, now


class StopPoll:
    """Whether the run was asked to stop, asking ``check`` (the stop event, the store's
    stop flag) at most every ``every`` seconds; once asked, the answer stays yes."""

    def __init__(self, check: Callable[[], bool], every: float = STOP_CHECK_SECONDS) -> None:
        self.check, self.every = check, every
        self.last: float | None = None
        self.stopping = False

    def requested(self, now: float) -> bool:
        if not self.stopping and (self.last is None or now - self.last >= self.every):
            self.last = now
            self.stopping = self.check()
        return self.stopping


class Interval:
    """True at most once every ``seconds`` (flushing metrics, logging progress)."""

    def __init__(self, seconds: float, now: float) -> None:
        self.seconds, self.last = seconds, now

    def due(self, now: float) -> bool:
        if now - self.last >= self.seconds:
            self.last = now
            return True
        return False

    def restart(self, now: float) -> None:
        self.last = now


class _QuietFileHandler(logging.FileHandler):
    """A run's log file: a line that cannot be written (disk full) is dropped quietly,
    never a traceback on the terminal; the failure itself reaches the run's row."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


def run_logger(store: Store, run_id: int) -> tuple[logging.Logger, logging.Handler]:
    """A logger writing to the run's log file in this store; close the handler when done.

    The logger is named by the log file, not only the run id: two stores in one process
    (tests, scripts) each have a run 1.
    """
    path = store.log_path(run_id)
    logger = logging.getLogger(f"workbench.run.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
        handler = _QuietFileHandler(path)
    except OSError as err:
        then = f"then: workbench runs resume {run_id}"
        raise StoreUnusable(checkpoints.cannot_write(path, err, then=then)) from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger, handler
