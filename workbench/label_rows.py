"""What users write about a run (schema 8): its name, tags and note, written by the CLI
and the TUI (checked in ``workbench.service.labels``), never by a worker, so they survive a
resume. Mixed into ``Store``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from workbench.database import Database
from workbench.records import RunRecord


class LabelRows:
    """Label writes over the store's database (``sql``, ``transaction``)."""

    sql: Database
    transaction: Callable[[], AbstractContextManager[None]]
    get_run: Callable[[int], RunRecord]
    _get_unchecked: Callable[..., RunRecord]

    def rename(self, run_id: int, name: str) -> RunRecord:
        with self.transaction():
            self._get_unchecked(run_id)
            self.sql.execute(
                "UPDATE runs SET name = :name WHERE id = :id", {"name": name, "id": run_id}
            )
        return self.get_run(run_id)

    def retag(self, run_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> RunRecord:
        """Add and remove tags in one transaction (read, change, write: a concurrent
        tagging of the same run waits for the write lock instead of losing a tag)."""
        with self.transaction():
            tags = set(self._get_unchecked(run_id, lock=True).tags) - set(remove) | set(add)
            self.sql.execute(
                "UPDATE runs SET tags = :tags WHERE id = :id",
                {"tags": json.dumps(sorted(tags)), "id": run_id},
            )
        return self.get_run(run_id)

    def set_note(self, run_id: int, note: str | None) -> RunRecord:
        with self.transaction():
            self._get_unchecked(run_id)
            self.sql.execute(
                "UPDATE runs SET note = :note WHERE id = :id", {"note": note or None, "id": run_id}
            )
        return self.get_run(run_id)
