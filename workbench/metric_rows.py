"""The metrics table: rows (run, key, step, value) written with a run's progress and
checkpoint in one transaction, the reads every view shares, and the fallback from a
damaged last checkpoint to the previous one. Mixed into ``Store``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from workbench.database import Database
from workbench.records import RunRecord, checkpoint_intact


class MetricRows:
    """Metric writes and reads over the store's database (``sql``, ``transaction``)."""

    sql: Database
    transaction: Callable[[], AbstractContextManager[None]]
    """Store's write transaction (SQLite: BEGIN IMMEDIATE ... COMMIT)."""
    put_file: Callable[[int, str | Path], None]
    local_file: Callable[[str | Path], Path]

    def write_metrics(
        self,
        run_id: int,
        rows: list[tuple[str, int, float]] | list[tuple[str, int, float, float]],
        steps_done: int,
        *,
        checkpoint: tuple[str, int] | None = None,
        best: tuple[str, int] | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """Append metric rows (key, step, value[, wall_time]) and progress in one
        transaction; a row without its wall time (when it was logged, Unix seconds) is
        stamped with the time of this write.

        With ``checkpoint=(path, step)`` or ``(path, step, sha256)`` the checkpoint becomes
        the run's resume point in the same transaction, so it never points past metrics
        that are not stored; the one it replaces becomes the previous checkpoint. With
        ``best=(path, step)`` that file becomes the run's best checkpoint.
        """
        now = time.time()
        with self.transaction():
            if rows:
                self.sql.execute(
                    "INSERT INTO metrics (run_id, key, step, value, wall_time) "
                    "VALUES (:run_id, :key, :step, :value, :wall_time)",
                    [
                        {
                            "run_id": run_id,
                            "key": key,
                            "step": step,
                            "value": value,
                            "wall_time": at[0] if at else now,
                        }
                        for key, step, value, *at in rows
                    ],
                )
            self.sql.execute(
                "UPDATE runs SET steps_done = :steps, heartbeat = :now, "
                "summary = COALESCE(:summary, summary) WHERE id = :id",
                {
                    "steps": steps_done,
                    "now": now,
                    "summary": json.dumps(summary) if summary is not None else None,
                    "id": run_id,
                },
            )
            if checkpoint is not None:
                path, step, *hashed = checkpoint
                # The checkpoint it replaces becomes the previous one (an UPDATE reads the
                # old values on the right), kept as the fallback until the next is
                # committed. A file written again under the same name (same step) shifts
                # nothing. (A checkpoint always has a path: `=` is the null-safe test here.)
                shift = ", ".join(
                    f"previous_checkpoint_{column} = CASE WHEN checkpoint_path = :path "
                    f"THEN previous_checkpoint_{column} ELSE checkpoint_{column} END"
                    for column in ("path", "step", "sha256")
                )
                self.sql.execute(
                    f"UPDATE runs SET {shift}, checkpoint_path = :path, "
                    "checkpoint_step = :step, checkpoint_sha256 = :sha256 WHERE id = :id",
                    {
                        "path": path,
                        "step": step,
                        "sha256": hashed[0] if hashed else None,
                        "id": run_id,
                    },
                )
                self.put_file(run_id, path)  # a shared store: every machine resumes from it
            if best is not None:
                self.put_file(run_id, best[0])
                self.sql.execute(
                    "UPDATE runs SET best_checkpoint_path = :path, best_checkpoint_step = :step "
                    "WHERE id = :id",
                    {"path": best[0], "step": best[1], "id": run_id},
                )

    def _fall_back_if_damaged(self, run: RunRecord) -> str | None:
        """When the last checkpoint's file is missing or not what was written, make the
        previous one (if intact) the resume point, else start over; say so in one line."""
        if not run.checkpoint_path:
            return None
        if checkpoint_intact(self.local_file(run.checkpoint_path), run.checkpoint_sha256):
            return None
        damaged = f"its checkpoint at step {run.checkpoint_step} ({run.checkpoint_path}) is damaged"
        previous = run.previous_checkpoint_path
        if previous and checkpoint_intact(
            self.local_file(previous), run.previous_checkpoint_sha256
        ):
            step, sha256 = run.previous_checkpoint_step, run.previous_checkpoint_sha256
            said = f"{damaged}; resuming from the previous one at step {step}"
        else:
            previous, step, sha256 = None, 0, None
            said = f"{damaged} and no earlier one is kept; starting again from step 0"
        self.sql.execute(
            "UPDATE runs SET checkpoint_path = :path, checkpoint_step = :step, "
            "checkpoint_sha256 = :sha256, previous_checkpoint_path = NULL, "
            "previous_checkpoint_step = NULL, previous_checkpoint_sha256 = NULL WHERE id = :id",
            {"path": previous, "step": step, "sha256": sha256, "id": run.id},
        )
        Path(run.checkpoint_path).unlink(missing_ok=True)
        return f"run {run.id}: {said}"

    def metrics(
        self, run_id: int, key: str | None = None, since_step: int = -1
    ) -> list[tuple[str, int, float]]:
        """(key, step, value) rows of a run in step order, optionally one key and after a step."""
        return self._metric_rows("key, step, value", run_id, key, since_step)

    def timed_metrics(
        self, run_id: int, key: str | None = None, since_step: int = -1
    ) -> list[tuple[str, int, float | None, float]]:
        """(key, step, wall_time, value) rows in step order, as ``metrics`` (wall_time None
        for a row logged before schema 8)."""
        return self._metric_rows("key, step, wall_time, value", run_id, key, since_step)

    def _metric_rows(self, columns: str, run_id: int, key: str | None, since_step: int):
        sql = f"SELECT {columns} FROM metrics WHERE run_id = :id AND step > :since"
        params: dict[str, Any] = {"id": run_id, "since": since_step}
        if key is not None:
            sql += " AND key = :key"
            params["key"] = key
        return [tuple(row) for row in self.sql.execute(sql + " ORDER BY step, key", params)]

    def wall_origin(self, run: RunRecord) -> float | None:
        """The origin of a run's wall-time axis, shared by all its keys: when it first
        started (a resume keeps ``started_at``), or its first timed metric if earlier
        (rows written by hand, as tests do). None without either."""
        first = self.sql.scalar(
            "SELECT MIN(wall_time) FROM metrics WHERE run_id = :id", {"id": run.id}
        )
        known = [t for t in (run.started_at, first) if t is not None]
        return min(known) if known else None

    def last_value(self, run_id: int, key: str) -> float | None:
        value = self.sql.scalar(
            "SELECT value FROM metrics WHERE run_id = :id AND key = :key "
            "ORDER BY step DESC LIMIT 1",
            {"id": run_id, "key": key},
        )
        return None if value is None else float(value)

    def recent_values(self, run_id: int, key: str, count: int) -> list[float]:
        """The last ``count`` values of one metric, oldest first."""
        rows = self.sql.execute(
            "SELECT value FROM metrics WHERE run_id = :id AND key = :key "
            "ORDER BY step DESC LIMIT :count",
            {"id": run_id, "key": key, "count": count},
        ).fetchall()
        return [row[0] for row in reversed(rows)]

    def metric_keys(self, run_id: int) -> list[str]:
        return [
            row[0]
            for row in self.sql.execute(
                "SELECT DISTINCT key FROM metrics WHERE run_id = :id ORDER BY key", {"id": run_id}
            )
        ]
