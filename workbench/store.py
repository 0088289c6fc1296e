"""The run store: one database holding every run and its metrics, shared by all processes.

Contract
--------
Location: ``workbench.db`` in the home directory (``--home DIR``, else ``$WORKBENCH_HOME``,
else the platform's user-data directory), in WAL mode with a 30 s busy timeout; or the
PostgreSQL database of ``--store``/``$WORKBENCH_STORE`` (workbench/database.py). Every
process opens its own connection, and every write that spans several statements runs in
one transaction (SQLite: ``BEGIN IMMEDIATE``), so a reader never sees half of it and
writers queue instead of failing with "database is locked".

Who writes what:

- The CLI and the TUI create run rows (``queued``; a run started from another's networks
  gets ``init_from`` and ``init_path``, a copy of those weights written before the row,
  never changed after), alone write a run's ``name`` after that, its ``tags`` and
  ``note`` (``LabelRows``; a resume or a worker never touches them), set
  ``stop_requested``, put a
  ``stopped``/``failed``/``lost`` row back to ``queued`` for a resume (falling back to
  the previous checkpoint when the last is damaged), fail a ``queued`` row whose worker
  cannot start (``fail_unclaimed``), and delete rows that no process is running.
- A worker claims a ``queued`` row (``queued -> running``, atomically, with its pid and
  host); from then on it alone writes that row's progress (``steps_done``, ``heartbeat``,
  ``checkpoint_*``, ``best_checkpoint_*``, ``summary``), its metrics, and its final
  status (``completed``, ``failed`` or ``stopped``).
- A population's members are rows created in one transaction (``create_population``),
  ``population`` the first member's id; one process claims them (``claim_all``) and then
  writes each member's row as a worker writes its run's. A stop request for a member is
  its flag alone (its process trains the others too; ``shares_process``).
- Any reader may turn a ``running`` row whose heartbeat is older than ``STALE_AFTER``
  seconds and whose process is gone into ``lost`` (compare-and-set on the heartbeat); a
  worker's run (``lease_until`` set) is lost once its lease has run out (queue_rows.py).

What a reader may assume:

- ``(run_id, key, step)`` is unique: no metric is ever stored twice. ``wall_time`` is
  when its report reached the runner (schema 8; NULL for rows logged before).
- Metrics arrive in batches, each committed together with ``steps_done``. A checkpoint
  commits the metrics up to its step together with ``checkpoint_step``: every metric at
  or before ``checkpoint_step`` is final. Metrics after it may be removed when the run
  resumes from that checkpoint, and are then logged again.
- ``checkpoint_sha256`` is the hash of ``checkpoint_path``'s file as written (schema 6);
  ``previous_checkpoint_*`` is the checkpoint it replaced, kept as the fallback until the
  next one is committed. A resume whose last file does not match its hash resumes from
  the previous one (``requeue``); every other step file of the run may be removed.
- The store never fails a read because it cannot write: a read-only or full store lists
  and shows runs (marking lost runs waits for a reader that can write). A write it
  cannot make raises ``StoreUnusable`` (one line: which file, what to free or change).
- ``best_checkpoint_path`` is one file per run, replaced atomically whenever an
  evaluation beats the best so far; it may come from after ``checkpoint_step`` (a policy
  the run did reach, even if the run resumes from an earlier checkpoint).
- Runs are never renumbered; ids grow.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studies.urls import masked
from workbench.database import Database, OperationalError, reason
from workbench.file_rows import FileRows
from workbench.label_rows import LabelRows
from workbench.metric_rows import MetricRows
from workbench.migrate import migrate
from workbench.population_rows import PopulationRows
from workbench.queue_rows import CLAIMED, QueueRows
from workbench.records import RunRecord, agent_label, default_home, pid_alive
from workbench.store_open import (
    STORE_ENV,
    StoreError,
    StoreUnusable,
    UnknownRun,
    connect,
    open_url,
    prepare_home,
    write_refused,
)

if TYPE_CHECKING:
    import sqlite_utils

STALE_AFTER = 10.0
"""Seconds without a heartbeat after which a run whose process is gone counts as lost."""
HEARTBEAT_INTERVAL = 2.0
DB_NAME = "workbench.db"

STATUSES = ("queued", "running", "completed", "failed", "stopped", "lost")
RESUMABLE = ("stopped", "failed", "lost")
ACTIVE = ("queued", "running")
CHECKPOINTS = ("last", "best")
"""A run's checkpoints: the last one (its resume point) and its best evaluation's."""


class Store(MetricRows, PopulationRows, QueueRows, FileRows, LabelRows):
    """Access to one workbench home: the database, checkpoints and logs."""

    def __init__(self, home: Path | str | None = None, url: str | None = None) -> None:
        """The store of ``home``: its SQLite file, or the PostgreSQL database ``url`` names
        (default ``$WORKBENCH_STORE``; the home keeps logs and checkpoints then)."""
        self.home = Path(home).expanduser() if home is not None else default_home()
        url = url if url is not None else os.environ.get(STORE_ENV) or None
        if url:
            self.sql = open_url(url)  # first: a URL that cannot be used writes nothing
            prepare_home(self.home, None)
            self.path: Path | str = masked(url)  # how messages name the store
        else:
            self.path = self.home / DB_NAME
            prepare_home(self.home, self.path)
            self.sql = Database.sqlite(lambda: connect(self.path))
        migrate(self)  # a store it cannot write raises StoreUnusable (see transaction)
        self.host = socket.gethostname()

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils on the SQLite connection, for the migrations of an embedded store
        (what it still earns: altering tables of old files); loaded on first use (it
        imports numpy and its plugins), so that reading runs starts fast."""
        import sqlite_utils

        return sqlite_utils.Database(self.sql.raw)

    def _query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a SELECT as dicts of column name to value."""
        return self.sql.rows(sql, params)

    def close(self) -> None:
        self.sql.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction that takes the write lock up front (no mid-way upgrade)."""
        try:
            with self.sql.transaction():
                yield
        except OperationalError as err:
            if not write_refused(err):
                raise
            raise StoreUnusable(
                f"cannot write {self.path} ({reason(err)}); free space on its disk or make it "
                "writable"
            ) from err

    # --- run rows -------------------------------------------------------------------------
    def create_run(self, **values: Any) -> int:
        """Queue one run (``_insert_run``'s keyword arguments); return its id."""
        with self.transaction():
            return self._insert_run(**values)

    def _insert_run(
        self,
        *,
        agent: str,
        task: str,
        config: dict[str, Any],
        task_params: dict[str, Any],
        seed: int,
        total_steps: int,
        name: str | None = None,
        study: str | None = None,
        trial: int | None = None,
        init_from: int | None = None,
        init_path: str | None = None,
        init_checkpoint: str | None = None,
        population: int | None = None,
        device: str | None = None,
        agent_sha256: str | None = None,
        queue: str | None = None,
        retries: int = 0,
    ) -> int:
        """Insert a queued run row inside the caller's transaction (``queue="any"``: for
        any ``workbench worker``; ``retries``: automatic retries when it is lost)."""
        row = {
            "name": name or "",
            "agent": agent,
            "task": task,
            "config": json.dumps(config),
            "task_params": json.dumps(task_params),
            "seed": seed,
            "total_steps": total_steps,
            "steps_done": 0,
            "status": "queued",
            "created_at": time.time(),
            "checkpoint_step": 0,
            "stop_requested": 0,
            "study": study,
            "trial": trial,
            "summary": "{}",
            "init_from": init_from,
            "init_path": init_path,
            "init_checkpoint": init_checkpoint,
            "population": population,
            "device": device,
            "agent_sha256": agent_sha256,
            "tags": "[]",
            "queue": queue,
            "retries": retries,
        }
        run_id = self.sql.insert("runs", row)
        if not name:
            self.sql.execute(
                "UPDATE runs SET name = :name WHERE id = :id",
                {"name": f"{agent_label(agent)}-{task}-{run_id}", "id": run_id},
            )
        return run_id

    def get_run(self, run_id: int) -> RunRecord:
        self.refresh_lost()
        return self._get_unchecked(run_id)

    def list_runs(self, statuses: Iterable[str] | None = None) -> list[RunRecord]:
        self.refresh_lost()
        sql, params = "SELECT * FROM runs", {}
        if statuses:
            sql += " WHERE status IN :statuses"
            params = {"statuses": list(statuses)}
        return [RunRecord.from_row(row) for row in self._query(sql + " ORDER BY id", params)]

    def run_stamps(self) -> dict[int, tuple]:
        """Per run, the raw columns that change while it trains or a user labels it
        (status, steps, summary, name, heartbeat, tags, note), unparsed: a cheap way for
        a reader to find which rows changed."""
        self.refresh_lost()
        sql = "SELECT id, status, steps_done, summary, name, heartbeat, tags, note FROM runs"
        return {row[0]: tuple(row[1:]) for row in self.sql.execute(sql)}

    def get_runs(self, run_ids: Iterable[int]) -> list[RunRecord]:
        """The rows of these runs (those that exist), in id order."""
        ids = list(run_ids)
        records = []
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            sql = "SELECT * FROM runs WHERE id IN :ids ORDER BY id"
            records += [RunRecord.from_row(row) for row in self._query(sql, {"ids": chunk})]
        return records

    def set_launch_pid(self, run_id: int, pid: int) -> None:
        """The launcher records the worker's pid so a worker that dies unclaimed is seen."""
        self.sql.execute(
            "UPDATE runs SET pid = :pid, host = :host, heartbeat = :now "
            "WHERE id = :id AND status = 'queued'",
            {"pid": pid, "host": self.host, "now": time.time(), "id": run_id},
        )

    def claim(self, run_id: int, pid: int) -> bool:
        """queued -> running for this process; False if another process got there first."""
        now = time.time()
        cursor = self.sql.execute(
            f"UPDATE runs SET {CLAIMED} WHERE id = :id AND status = 'queued'",
            {"pid": pid, "host": self.host, "now": now, "until": None, "id": run_id},
        )
        return cursor.rowcount == 1

    def beat(self, run_id: int) -> None:
        self.beat_all([run_id])

    def finish(
        self,
        run_id: int,
        status: str,
        *,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        assert status in ("completed", "failed", "stopped")
        self.sql.execute(
            "UPDATE runs SET status = :status, error = :error, ended_at = :now, "
            "heartbeat = :now, lease_until = NULL, summary = COALESCE(:summary, summary) "
            "WHERE id = :id",
            {
                "status": status,
                "error": error,
                "now": time.time(),
                "summary": json.dumps(summary) if summary is not None else None,
                "id": run_id,
            },
        )

    def fail_unclaimed(self, run_id: int, error: str) -> None:
        """A queued run no worker can start (its log cannot be written): failed, so it
        is not queued forever and resumes once the cause is fixed."""
        self.sql.execute(
            "UPDATE runs SET status = 'failed', error = :error, ended_at = :now "
            "WHERE id = :id AND status = 'queued'",
            {"error": error, "now": time.time(), "id": run_id},
        )

    def requeue(self, run_id: int) -> RunRecord:
        """Put a stopped, failed or lost run back in the queue to continue from its checkpoint.

        Metrics logged after the checkpoint are removed here: the resumed worker logs
        those steps again, so none is stored twice.
        """
        self.refresh_lost()
        with self.transaction():
            run = self._get_unchecked(run_id, lock=True)
            if run.status not in RESUMABLE:
                raise StoreError(
                    f"run {run_id} is {run.status}; only {', '.join(RESUMABLE)} runs resume"
                )
            notice = self._fall_back_if_damaged(run)
            run = self._get_unchecked(run_id)
            self.sql.execute(
                "DELETE FROM metrics WHERE run_id = :id AND step > :step",
                {"id": run_id, "step": run.checkpoint_step},
            )
            self.sql.execute(
                "UPDATE runs SET status = 'queued', steps_done = checkpoint_step, "
                "stop_requested = 0, pid = NULL, error = NULL, ended_at = NULL, queue = NULL "
                "WHERE id = :id",
                {"id": run_id},
            )
        return dataclasses.replace(self.get_run(run_id), notice=notice)

    def delete_run(self, run_id: int) -> RunRecord:
        run = self.get_run(run_id)
        if run.status in ACTIVE:
            raise StoreError(
                f"run {run_id} is {run.status}; stop it first: workbench runs stop {run_id}"
            )
        with self.transaction():
            self.sql.execute("DELETE FROM metrics WHERE run_id = :id", {"id": run_id})
            self.sql.execute("DELETE FROM runs WHERE id = :id", {"id": run_id})
            self.drop_files(run_id)
        for path in (run.checkpoint_path, run.best_checkpoint_path, run.init_path):
            if path:
                Path(path).unlink(missing_ok=True)
        self.log_path(run_id).unlink(missing_ok=True)
        return run

    def _get_unchecked(self, run_id: int, lock: bool = False) -> RunRecord:
        """The row as stored, without first looking for lost runs; ``lock``: inside a
        transaction that will change it (PostgreSQL: others wait until it ends)."""
        sql = "SELECT * FROM runs WHERE id = :id" + (self.sql.locking if lock else "")
        rows = self._query(sql, {"id": run_id})
        if not rows:
            raise UnknownRun(f"no run with id {run_id}; `workbench runs ls` lists the runs")
        return RunRecord.from_row(rows[0])

    def refresh_lost(self) -> list[int]:
        """Mark as lost the active runs whose heartbeat is stale and whose process is gone.

        Best effort: on a store that cannot be written (read-only, disk full) nothing is
        marked and reads go on; the next reader that can write marks them."""
        try:
            return self._mark_lost()
        except OperationalError as err:
            if write_refused(err):
                return []
            raise

    def _mark_lost(self) -> list[int]:
        cutoff = time.time() - STALE_AFTER
        candidates = self.sql.execute(
            "SELECT id, pid, host, heartbeat FROM runs WHERE status IN ('queued', 'running') "
            "AND pid IS NOT NULL AND lease_until IS NULL AND heartbeat < :cutoff",
            {"cutoff": cutoff},
        ).fetchall()
        lost = []
        for run_id, pid, host, heartbeat in candidates:
            if host == self.host and pid_alive(pid):
                continue
            if host != self.host and heartbeat > time.time() - 6 * STALE_AFTER:
                continue  # another machine's process: only a long silence tells
            cursor = self.sql.execute(
                "UPDATE runs SET status = 'lost', ended_at = :now, "
                "error = 'worker process ended without reporting (killed or crashed)' "
                "WHERE id = :id AND status IN ('queued', 'running') AND heartbeat = :heartbeat",
                {"now": time.time(), "id": run_id, "heartbeat": heartbeat},
            )
            if cursor.rowcount:
                lost.append(run_id)
        return lost + self.expire_leases()  # a worker's run: its lease alone tells

    # --- studies --------------------------------------------------------------------------
    def study_runs(self, study: str) -> list[RunRecord]:
        """Runs of a study: its trials' lifetimes and its fresh re-evaluation lifetimes."""
        rows = self._query("SELECT * FROM runs WHERE study = :study ORDER BY id", {"study": study})
        return [RunRecord.from_row(row) for row in rows]

    def log_path(self, run_id: int) -> Path:
        return self.home / "logs" / f"run-{run_id}.log"
