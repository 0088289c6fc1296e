"""Runs any machine's worker can take (schema 10): queued for ``any`` worker, claimed with a
lease the worker's heartbeat renews, lost once the lease has run out (as seen from any
machine, with no process to ask about), and then queued again to continue from the
last checkpoint while the run has retries left. Mixed into ``Store``.

A claim is one transaction: the oldest run queued for any worker, locked so that no two
workers take it (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so a second worker takes the
next run instead of waiting; SQLite: ``BEGIN IMMEDIATE`` serialises the claims).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from workbench.database import Database

LEASE_SECONDS = 30.0
"""How long a worker's claim holds without a heartbeat (beats come every 2 s);
``$WORKBENCH_LEASE_SECONDS`` sets it (the tests shorten it)."""


CLAIMED = (
    "status = 'running', pid = :pid, host = :host, heartbeat = :now, lease_until = :until, "
    "started_at = COALESCE(started_at, :now), ended_at = NULL, error = NULL, stop_requested = 0"
)
"""What every claim sets (queued -> running for process ``:pid`` on ``:host``); ``:until``
is the lease of a worker's claim, None for a process that claims its own runs."""


def lease_seconds() -> float:
    return float(os.environ.get("WORKBENCH_LEASE_SECONDS", LEASE_SECONDS))


class QueueRows:
    """Claims, leases and retries over the store's database."""

    sql: Database
    transaction: Callable[[], AbstractContextManager[None]]
    host: str

    def claim_next(self, pid: int) -> int | None:
        """queued -> running, for this process and host, of the oldest run queued for any
        worker, with a lease; None when there is none."""
        now = time.time()
        skip = " FOR UPDATE SKIP LOCKED" if self.sql.dialect == "postgresql" else ""
        with self.transaction():
            run_id = self.sql.scalar(
                "SELECT id FROM runs WHERE status = 'queued' AND queue = 'any' "
                "ORDER BY id LIMIT 1" + skip
            )
            if run_id is None:
                return None
            self.sql.execute(
                f"UPDATE runs SET {CLAIMED} WHERE id = :id",
                {
                    "pid": pid,
                    "host": self.host,
                    "now": now,
                    "until": now + lease_seconds(),
                    "id": run_id,
                },
            )
        return int(run_id)

    def expire_leases(self) -> list[int]:
        """Runs whose lease ran out: queued again for any worker (to continue from their
        checkpoint; the metrics after it go, as a resume removes them) while they have
        retries left, else lost. Each in its own transaction, compared and set on the lease
        it read, so two readers do not both act on one run."""
        if self.sql.in_transaction:  # a reader inside a write: the next reader does it
            return []
        now = time.time()
        expired = self.sql.execute(
            "SELECT id, lease_until, retries, checkpoint_step, host FROM runs "
            "WHERE status = 'running' AND lease_until < :now",
            {"now": now},
        ).fetchall()
        lost = []
        for run_id, until, retries, checkpoint_step, host in expired:
            when = time.strftime("%H:%M:%S", time.localtime(until))
            with self.transaction():
                left = (retries or 0) - 1
                cursor = self.sql.execute(
                    "UPDATE runs SET status = :status, queue = :queue, retries = :left, "
                    "steps_done = CASE WHEN :retry THEN checkpoint_step ELSE steps_done END, "
                    "pid = NULL, lease_until = NULL, ended_at = :now, error = :error "
                    "WHERE id = :id AND status = 'running' AND lease_until = :until",
                    {
                        "status": "queued" if left >= 0 else "lost",
                        "queue": "any" if left >= 0 else None,
                        "left": max(left, 0),
                        "retry": left >= 0,
                        "now": now,
                        "error": f"the worker on {host} stopped renewing its lease ({when})"
                        + (f"; retried from step {checkpoint_step}" if left >= 0 else ""),
                        "id": run_id,
                        "until": until,
                    },
                )
                if cursor.rowcount and left >= 0:  # the checkpoint as this transaction sees it
                    self.sql.execute(
                        "DELETE FROM metrics WHERE run_id = :id AND step > "
                        "(SELECT checkpoint_step FROM runs WHERE id = :id)",
                        {"id": run_id},
                    )
            if cursor.rowcount:
                lost.append(run_id)
        return lost
