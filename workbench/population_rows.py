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

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from workbench.records import RunRecord


class PopulationRows:
    """Population reads and writes over the store's connection."""

    conn: sqlite3.Connection
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
            self.conn.execute("UPDATE runs SET population = ? WHERE id = ?", [first, first])
            ids = [first]
            ids += [self._insert_run(**member, population=first) for member in members[1:]]
        return ids

    def population_runs(self, population: int) -> list[RunRecord]:
        """The members of a population, in id order (empty for no such population)."""
        rows = self._query("SELECT * FROM runs WHERE population = ? ORDER BY id", [population])
        return [RunRecord.from_row(row) for row in rows]

    def claim_all(self, run_ids: Sequence[int], pid: int) -> list[int]:
        """queued -> running for this process, in one transaction, of those of ``run_ids``
        that are queued (a member stopped before its worker started is not); return them."""
        now = time.time()
        marks = ", ".join("?" * len(run_ids))
        with self.transaction():
            queued = {
                row[0]
                for row in self.conn.execute(
                    f"SELECT id FROM runs WHERE id IN ({marks}) AND status = 'queued'",
                    list(run_ids),
                )
            }
            claimed = [run_id for run_id in run_ids if run_id in queued]
            if claimed:
                self.conn.execute(
                    "UPDATE runs SET status = 'running', pid = ?, host = ?, heartbeat = ?, "
                    "started_at = COALESCE(started_at, ?), ended_at = NULL, error = NULL, "
                    f"stop_requested = 0 WHERE id IN ({', '.join('?' * len(claimed))})",
                    [pid, self.host, now, now, *claimed],
                )
        return claimed

    def beat_all(self, run_ids: Sequence[int]) -> None:
        """The heartbeat of every member still running (one statement for all)."""
        marks = ", ".join("?" * len(run_ids))
        self.conn.execute(
            f"UPDATE runs SET heartbeat = ? WHERE id IN ({marks}) AND status = 'running'",
            [time.time(), *run_ids],
        )

    def request_stop(self, run_id: int) -> RunRecord:
        run = self.get_run(run_id)
        if run.status == "queued":
            # Nothing runs yet: a queued run stops at once, before any worker claims it.
            self.conn.execute(
                "UPDATE runs SET status = 'stopped', ended_at = ? "
                "WHERE id = ? AND status = 'queued'",
                [time.time(), run_id],
            )
        self.conn.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", [run_id])
        return self.get_run(run_id)

    def stop_requested(self, run_id: int) -> bool:
        row = self.conn.execute("SELECT stop_requested FROM runs WHERE id = ?", [run_id]).fetchone()
        return bool(row and row[0])

    def stop_flags(self, run_ids: Sequence[int]) -> set[int]:
        """Which of these runs were asked to stop (one query for a whole population)."""
        marks = ", ".join("?" * len(run_ids))
        sql = f"SELECT id FROM runs WHERE id IN ({marks}) AND stop_requested = 1"
        return {row[0] for row in self.conn.execute(sql, list(run_ids))}

    def shares_process(self, run: RunRecord) -> bool:
        """Whether the process training ``run`` trains another active run too (the members
        of a population): then a SIGTERM to it would stop them all."""
        if not run.pid:
            return False
        row = self.conn.execute(
            "SELECT COUNT(*) FROM runs WHERE pid = ? AND host IS ? AND id != ? "
            "AND status IN ('queued', 'running')",
            [run.pid, run.host, run.id],
        ).fetchone()
        return bool(row[0])
