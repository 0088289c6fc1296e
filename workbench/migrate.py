"""Bringing a store's schema to the one this code reads, on either backend: the SQLite
file runs every step of ``schema.MIGRATIONS`` above its ``user_version`` (in one
transaction); a PostgreSQL database gets the whole schema at once (``schema.
postgresql_schema``, in the ``workbench`` schema, one process at a time). A store of a
newer schema is refused in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.database import SCHEMA
from workbench.schema import MIGRATIONS, POSTGRESQL_STEPS, SCHEMA_VERSION, postgresql_schema
from workbench.store_open import StoreError

if TYPE_CHECKING:
    from workbench.store import Store


def migrate(store: Store) -> None:
    if store.sql.dialect == "postgresql":
        return _migrate_postgresql(store)
    version = store.sql.scalar("PRAGMA user_version")
    _refuse_newer(store, version)
    if version == SCHEMA_VERSION:
        return
    with store.transaction():
        for target, step in MIGRATIONS:
            if version < target:
                step(store.db)
        store.sql.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _refuse_newer(store: Store, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{store.path} was written by a newer workbench (schema {version}, this one "
            f"reads {SCHEMA_VERSION}); upgrade meta-rl-workbench"
        )


def _migrate_postgresql(store: Store) -> None:
    """Build the workbench's schema in a PostgreSQL database that lacks it (one process at
    a time: an advisory lock), or check the version of the one it has."""
    with store.transaction():
        store.sql.execute("SELECT pg_advisory_xact_lock(hashtext('workbench-schema'))")
        store.sql.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        if store.sql.scalar("SELECT to_regclass('meta')") is None:
            for statement in postgresql_schema():
                store.sql.execute(statement)
            return
        version = int(store.sql.scalar("SELECT value FROM meta WHERE key = 'schema_version'"))
        _refuse_newer(store, version)
        for target, statements in POSTGRESQL_STEPS:
            if version < target:
                for statement in statements:
                    store.sql.execute(statement)
        store.sql.execute(
            "UPDATE meta SET value = :version WHERE key = 'schema_version'",
            {"version": str(SCHEMA_VERSION)},
        )
