"""Opening a workbench home: its directories and database file created readable by their
owner only, a foreign SQLite file refused before anything in it changes (its journal mode
included), a store that cannot be written opened for reading; a PostgreSQL store named by
a URL (``--store``, ``$WORKBENCH_STORE``), its password never shown; and the store's
errors."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from envs.errors import EnvironmentFailure, UserError

if TYPE_CHECKING:
    from workbench.database import Database

BUSY_SECONDS = 30.0
"""How long a statement waits for another process's write lock on the SQLite file."""
STORE_ENV = "WORKBENCH_STORE"
"""The environment variable naming a PostgreSQL store (``--store`` sets it, so the
workers a process starts open the same store)."""


class StoreError(UserError):
    """A problem with the store the user can fix; the message says how."""


class UnknownRun(StoreError):
    pass


class StoreUnusable(EnvironmentFailure):
    """The home, its database or its files cannot be written (read-only, disk full,
    permissions): not the user's input, so the CLI exits 1."""


def write_refused(err: BaseException) -> bool:
    """Whether an SQLite error means the store cannot be written at all just now: a
    read-only file or disk, a full disk, or a failed write."""
    text = str(err).lower()
    return any(
        words in text
        for words in ("readonly", "read-only", "disk is full", "disk i/o error", "unable to open")
    )


def prepare_home(home: Path, path: Path | None) -> None:
    """Create the home, its folders and the database file ``path`` where missing (none for
    a PostgreSQL store: the home then keeps logs and checkpoints)."""
    try:
        # Readable by the owner only: runs may hold private configs and results.
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        (home / "checkpoints").mkdir(mode=0o700, exist_ok=True)
        (home / "logs").mkdir(mode=0o700, exist_ok=True)
        if path is not None and not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as err:
        raise StoreUnusable(
            f"cannot use {home} as the workbench home ({err.strerror}); "
            "make it writable or pass --home DIR"
        ) from None


def connect(path: Path) -> sqlite3.Connection:
    """Open the database, refusing one that is not a workbench store before changing
    anything in it (its journal mode included). A store that cannot be written (a
    read-only directory or disk) is opened as it is, for reading."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        _refuse_foreign(conn, path)
    except sqlite3.DatabaseError as err:
        if isinstance(err, sqlite3.OperationalError) and "unable to open" in str(err):
            return _connect_read_only(path)
        raise StoreError(
            f"{path} is not a workbench store ({err}); move it away or pass --home DIR"
        ) from None
    # Turning a new file to WAL needs it unlocked, and SQLite does not wait for that: while
    # another process that opened it first holds its migration's write lock, ask again.
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError as err:
            if "locked" in str(err) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            if not write_refused(err):
                raise
        return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A store whose directory refuses even SQLite's shared-memory file: read it as an
    immutable file (nothing else can be writing it there)."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, isolation_level=None)
    _refuse_foreign(conn, path)
    return conn


def _refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if (version or tables) and not {"runs", "metrics"} <= tables:
        conn.close()
        raise StoreError(
            f"{path} is an SQLite database of something else (tables: "
            f"{', '.join(sorted(tables)[:5]) or 'none'}), not a workbench store; "
            "move it away or pass --home DIR"
        )


def open_url(url: str) -> Database:
    """The PostgreSQL store a URL names, connected; one line (``StoreError``) for a URL
    that is not one, of another kind of database, or that cannot be reached."""
    import sqlalchemy as sa

    from studies.urls import masked, scrub
    from workbench.database import Database, reason

    shown = masked(url)
    fix = "postgresql://USER@HOST[:PORT]/DATABASE (the password from PGPASSWORD or ~/.pgpass)"
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(f"store {shown!r} is not a database URL; use {fix}") from None
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"store {shown} is a {parsed.get_backend_name()} URL; a shared store is "
            f"PostgreSQL: {fix}, or no --store for the embedded SQLite file"
        )
    try:
        return Database.postgresql(parsed)
    except sa.exc.DBAPIError as err:
        raise StoreError(
            f"cannot reach the store {shown} ({scrub(reason(err), url)}); check the URL, that "
            "PostgreSQL runs there, and the password (PGPASSWORD or ~/.pgpass)"
        ) from None
    except sa.exc.NoSuchModuleError as err:
        raise StoreError(f"store {shown}: {err}") from None
