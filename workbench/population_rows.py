"""The run rows of populations (members created together, claimed together, beaten by one
heartbeat) and stop requests, which a population's process reads for each member. Mixed
into ``Store``.

A population's members are ordinary runs; what ties them is ``runs.population``, the id
of the first member's run (schema 7), set on every member, the first included. One
process trains all the members it claims, so they share its pid: a stop request for one
member is its row's ``stop_requested`` flag alone (``worker.stop`` sends no SIGTERM to a
process that trains other runs too), read by the process for all its members at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from workbench.database import Database
from workbench.queue_rows import CLAIMED, lease_seconds
from workbench.records import RunRecord


class PopulationRows:
    """Population reads and writes over the store's connection."""

    sql: Database
    transaction: Callable[[], AbstractContextManager[None]]
    _insert_run: Callable[..., int]
    _query: Callable[..., Iterable[dict[str, Any]]]
    get_run: Callable[[int], RunRecord]
    host: str

    def create_population(self, members: Sequence[dict[str, Any]]) -> list[int]:
        """Queue one run per member (``members``: ``create_run``'s keyword arguments) in one
        transaction, each row's ``population`` the first member's id; return the ids."""
        if not members:
            raise ValueError("a population needs at least one member")
        with self.transaction():
            first = self._insert_run(**members[0])
            self.sql.execute("UPDATE runs SET population = :id WHERE id = :id", {"id": first})
            ids = [first]
            ids += [self._insert_run(**member, population=first) for member in members[1:]]
        return ids

    def population_runs(self, population: int) -> list[RunRecord]:
        """The members of a population, in id order (empty for no such population)."""
        rows = self._query(
            "SELECT * FROM runs WHERE population = :population ORDER BY id",
            {"population": population},
        )
        return [RunRecord.from_row(row) for row in rows]

    def claim_all(self, run_ids: Sequence[int], pid: int) -> list[int]:
        """queued -> running for this process, in one transaction, of those of ``run_ids``
        that are queued (a member stopped before its worker started is not); return them."""
        now = time.time()
        with self.transaction():
            queued: set[int] = set()
            for chunk in _chunks(run_ids):
                sql = (
                    "SELECT id FROM runs WHERE id IN :ids AND status = 'queued'" + self.sql.locking
                )
                queued |= {row[0] for row in self.sql.execute(sql, {"ids": chunk})}
            claimed = [run_id for run_id in run_ids if run_id in queued]
            for chunk in _chunks(claimed):
                self.sql.execute(
                    f"UPDATE runs SET {CLAIMED} WHERE id IN :ids",
                    {"pid": pid, "host": self.host, "now": now, "until": None, "ids": chunk},
                )
        return claimed

    def beat_all(self, run_ids: Sequence[int]) -> None:
        """The heartbeat of every member still running (one statement for all)."""
        now = time.time()
        for chunk in _chunks(run_ids):
            self.sql.execute(
                "UPDATE runs SET heartbeat = :now, lease_until = CASE WHEN lease_until IS "
                "NULL THEN NULL ELSE :until END WHERE id IN :ids AND status = 'running'",
                {"now": now, "until": now + lease_seconds(), "ids": chunk},
            )

    def request_stop(self, run_id: int) -> RunRecord:
        run = self.get_run(run_id)
        if run.status == "queued":
            # Nothing runs yet: a queued run stops at once, before any worker claims it.
            self.sql.execute(
                "UPDATE runs SET status = 'stopped', ended_at = :now "
                "WHERE id = :id AND status = 'queued'",
                {"now": time.time(), "id": run_id},
            )
        self.sql.execute("UPDATE runs SET stop_requested = 1 WHERE id = :id", {"id": run_id})
        return self.get_run(run_id)

    def stop_requested(self, run_id: int) -> bool:
        flag = self.sql.scalar("SELECT stop_requested FROM runs WHERE id = :id", {"id": run_id})
        return bool(flag)

    def stop_flags(self, run_ids: Sequence[int]) -> set[int]:
        """Which of these runs were asked to stop (one query for a whole population)."""
        flagged: set[int] = set()
        for chunk in _chunks(run_ids):
            sql = "SELECT id FROM runs WHERE id IN :ids AND stop_requested = 1"
            flagged |= {row[0] for row in self.sql.execute(sql, {"ids": chunk})}
        return flagged

    def shares_process(self, run: RunRecord) -> bool:
        """Whether the process training ``run`` trains another active run too (the members
        of a population): then a SIGTERM to it would stop them all."""
        if not run.pid or run.host is None:
            return False
        count = self.sql.scalar(
            "SELECT COUNT(*) FROM runs WHERE pid = :pid AND host = :host AND id != :id "
            "AND status IN ('queued', 'running')",
            {"pid": run.pid, "host": run.host, "id": run.id},
        )
        return bool(count)


def _chunks(run_ids: Sequence[int], size: int = 500) -> Iterator[list[int]]:
    """``run_ids`` in slices within SQLite's limit on bound parameters."""
    for start in range(0, len(run_ids), size):
        yield list(run_ids[start : start + size])
