"""The run store's schema, built by migrations: an ordered list of steps keyed by schema
version. A store at version v runs every step whose version is above v (in one
transaction, see ``workbench/migrate.py``); a new version is one more entry at the end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def _create_runs_and_metrics(db: sqlite_utils.Database) -> None:
    """Schema 1: the runs and metrics tables."""
    db["runs"].create(
        {
            "id": int,
            "name": str,
            "agent": str,
            "task": str,
            "config": str,
            "task_params": str,
            "seed": int,
            "total_steps": int,
            "steps_done": int,
            "status": str,
            "pid": int,
            "host": str,
            "heartbeat": float,
            "created_at": float,
            "started_at": float,
            "ended_at": float,
            "error": str,
            "checkpoint_path": str,
            "checkpoint_step": int,
            "stop_requested": int,
            "study": str,
            "trial": int,
            "summary": str,
        },
        pk="id",
        not_null={"agent", "task", "config", "seed", "total_steps", "status"},
        defaults={"steps_done": 0, "checkpoint_step": 0, "stop_requested": 0},
        if_not_exists=True,
    )
    db["runs"].create_index(["status"], if_not_exists=True)
    db["runs"].create_index(["study", "trial"], if_not_exists=True)
    db["metrics"].create(
        {"run_id": int, "key": str, "step": int, "value": float},
        pk=("run_id", "key", "step"),
        foreign_keys=[("run_id", "runs", "id")],
        if_not_exists=True,
    )


def _add_study_storages(db: sqlite_utils.Database) -> None:
    """Schema 2: studies stored elsewhere (PostgreSQL ...) remembered here by name (moved
    out to studies' own file by schema 5)."""
    db["study_storages"].create(
        {"name": str, "url": str, "created_at": float}, pk="name", if_not_exists=True
    )


def _add_init_columns(db: sqlite_utils.Database) -> None:
    """Schema 3: the run a run's networks started from, and the copy of those weights."""
    _add_columns(db, "runs", {"init_from": int, "init_path": str})


def _add_best_checkpoint(db: sqlite_utils.Database) -> None:
    """Schema 4: the checkpoint of the run's best evaluation, kept beside the last one, and
    which checkpoint of ``init_from`` a run started from."""
    _add_columns(
        db,
        "runs",
        {"best_checkpoint_path": str, "best_checkpoint_step": int, "init_checkpoint": str},
    )


def _add_columns(db: sqlite_utils.Database, table: str, columns: dict[str, type]) -> None:
    """Add the columns a table lacks (a step may meet a table that already has them)."""
    existing = db[table].columns_dict
    for name, kind in columns.items():
        if name not in existing:
            db[table].add_column(name, kind)


def _move_study_storages(db: sqlite_utils.Database) -> None:
    """Schema 5: remembered study storages belong to studies, not to the run store: copy
    them to the home's ``study-storages.json`` (``studies.remembered``; an entry already
    there is newer and stays), then drop the table. Safe to run twice."""
    from studies import remembered

    if not db["study_storages"].exists():
        return
    urls = {row["name"]: row["url"] for row in db["study_storages"].rows}
    path = next(row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main")
    if urls and path:  # the home is the database file's directory
        remembered.remember_all(Path(path).parent, urls, replace=False)
    db["study_storages"].drop()


def _add_checkpoint_hashes(db: sqlite_utils.Database) -> None:
    """Schema 6: the SHA-256 of the last checkpoint file, and the checkpoint before it
    (path, step, hash), kept until a newer one is written and verified, so a damaged last
    checkpoint falls back to it. Runs saved before this have no hash: trusted as they are."""
    _add_columns(
        db,
        "runs",
        {
            "checkpoint_sha256": str,
            "previous_checkpoint_path": str,
            "previous_checkpoint_step": int,
            "previous_checkpoint_sha256": str,
        },
    )


def _add_population_and_device(db: sqlite_utils.Database) -> None:
    """Schema 7: ``population``, the id of the first member's run, shared by every member
    of a population trained as one batched computation (None for a lone run); ``device``,
    where the run trains (auto, cpu or cuda; None before: cpu)."""
    _add_columns(db, "runs", {"population": int, "device": str})
    db["runs"].create_index(["population"], if_not_exists=True)


def _add_tags_notes_and_wall_time(db: sqlite_utils.Database) -> None:
    """Schema 8: a run's ``tags`` (a JSON list of strings, ``[]`` for a run made before)
    and ``note`` (free text), both written by the CLI and the TUI, never by a worker; and
    each metric row's ``wall_time`` (Unix seconds when it was logged; NULL for rows
    logged before this schema, which no clock recorded)."""
    _add_columns(db, "runs", {"tags": str, "note": str})
    db.execute("UPDATE runs SET tags = '[]' WHERE tags IS NULL")
    _add_columns(db, "metrics", {"wall_time": float})


def _add_agent_source_hash(db: sqlite_utils.Database) -> None:
    """Schema 9: the SHA-256 of a plug-in agent's source file when the run was created
    (None for a built-in agent), so a resume can refuse a source that changed since."""
    _add_columns(db, "runs", {"agent_sha256": str})


def _add_queue_lease_and_retries(db: sqlite_utils.Database) -> None:
    """Schema 10: ``queue`` (``any``: the run waits for any ``workbench worker``; None: for
    the process that created it), ``lease_until`` (Unix seconds until which a worker's
    claim holds, renewed with its heartbeat; None: a local process, checked by its pid)
    and ``retries`` (automatic retries left when the run is lost)."""
    _add_columns(db, "runs", {"queue": str, "lease_until": float, "retries": int})


def _add_files(db: sqlite_utils.Database) -> None:
    """Schema 11: ``files``, copies of runs' checkpoint files for the machines that share a
    store (workbench/file_rows.py; an SQLite store's stays empty)."""
    db["files"].create(
        {"name": str, "run_id": int, "sha256": str, "data": bytes}, pk="name", if_not_exists=True
    )


MIGRATIONS: list[tuple[int, Callable[[sqlite_utils.Database], None]]] = [
    (1, _create_runs_and_metrics),
    (2, _add_study_storages),
    (3, _add_init_columns),
    (4, _add_best_checkpoint),
    (5, _move_study_storages),
    (6, _add_checkpoint_hashes),
    (7, _add_population_and_device),
    (8, _add_tags_notes_and_wall_time),
    (9, _add_agent_source_hash),
    (10, _add_queue_lease_and_retries),
    (11, _add_files),
]
"""Schema steps in order: a store at version v runs every step whose version is above v.
A new schema version is one more entry at the end."""
SCHEMA_VERSION = MIGRATIONS[-1][0]


# --- PostgreSQL ----------------------------------------------------------------------------
# A new PostgreSQL store is built at the current schema at once; its version is the row
# ``schema_version`` of ``meta``, and an older one runs the statements of
# ``POSTGRESQL_STEPS`` above it (PostgreSQL stores began at schema 9). A new schema
# version is a step for each backend. tests/test_store.py checks that a fresh SQLite store
# has exactly these columns.
RUN_COLUMNS = {
    "id": "BIGSERIAL PRIMARY KEY",
    "name": "TEXT",
    "agent": "TEXT NOT NULL",
    "task": "TEXT NOT NULL",
    "config": "TEXT NOT NULL",
    "task_params": "TEXT",
    "seed": "BIGINT NOT NULL",
    "total_steps": "BIGINT NOT NULL",
    "steps_done": "BIGINT DEFAULT 0",
    "status": "TEXT NOT NULL",
    "pid": "BIGINT",
    "host": "TEXT",
    "heartbeat": "DOUBLE PRECISION",
    "created_at": "DOUBLE PRECISION",
    "started_at": "DOUBLE PRECISION",
    "ended_at": "DOUBLE PRECISION",
    "error": "TEXT",
    "checkpoint_path": "TEXT",
    "checkpoint_step": "BIGINT DEFAULT 0",
    "stop_requested": "BIGINT DEFAULT 0",
    "study": "TEXT",
    "trial": "BIGINT",
    "summary": "TEXT",
    "init_from": "BIGINT",
    "init_path": "TEXT",
    "best_checkpoint_path": "TEXT",
    "best_checkpoint_step": "BIGINT",
    "init_checkpoint": "TEXT",
    "checkpoint_sha256": "TEXT",
    "previous_checkpoint_path": "TEXT",
    "previous_checkpoint_step": "BIGINT",
    "previous_checkpoint_sha256": "TEXT",
    "population": "BIGINT",
    "device": "TEXT",
    "tags": "TEXT",
    "note": "TEXT",
    "agent_sha256": "TEXT",
    "queue": "TEXT",
    "lease_until": "DOUBLE PRECISION",
    "retries": "BIGINT",
}
METRIC_COLUMNS = {
    "run_id": "BIGINT NOT NULL REFERENCES runs (id)",
    "key": "TEXT NOT NULL",
    "step": "BIGINT NOT NULL",
    "value": "DOUBLE PRECISION",
    "wall_time": "DOUBLE PRECISION",
}


def postgresql_schema() -> list[str]:
    """The statements that build a PostgreSQL store at ``SCHEMA_VERSION`` (in the schema
    the connection's search path names first)."""
    runs = ", ".join(f"{name} {kind}" for name, kind in RUN_COLUMNS.items())
    metrics = ", ".join(f"{name} {kind}" for name, kind in METRIC_COLUMNS.items())
    return [
        f"CREATE TABLE runs ({runs})",
        "CREATE INDEX runs_status ON runs (status)",
        "CREATE INDEX runs_study_trial ON runs (study, trial)",
        "CREATE INDEX runs_population ON runs (population)",
        f"CREATE TABLE metrics ({metrics}, PRIMARY KEY (run_id, key, step))",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        FILES_TABLE,
        f"INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}')",
    ]


FILES_TABLE = (
    "CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, run_id BIGINT NOT NULL, "
    "sha256 TEXT NOT NULL, data BYTEA NOT NULL)"
)

POSTGRESQL_STEPS: list[tuple[int, list[str]]] = [
    (
        10,
        [
            "ALTER TABLE runs ADD COLUMN IF NOT EXISTS queue TEXT",
            "ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_until DOUBLE PRECISION",
            "ALTER TABLE runs ADD COLUMN IF NOT EXISTS retries BIGINT",
        ],
    ),
    (11, [FILES_TABLE]),
]
"""What brings a PostgreSQL store of an older schema to each version (after 9)."""
