"""Where studies live: Optuna's RDB storage in the workbench's own SQLite file by default,
or any database URL Optuna's RDB storage takes (PostgreSQL for scale-out).

Trials beat a heartbeat; a trial whose worker died (``kill -9``, a lost machine) is marked
failed once its heartbeat is ``GRACE_PERIOD`` seconds stale, and RetryFailedTrialCallback
queues it again with the same parameters.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from sqlalchemy.engine import make_url

from envs.errors import UserError
from studies.urls import masked, scrub

HEARTBEAT_INTERVAL = int(os.environ.get("WORKBENCH_TRIAL_HEARTBEAT_SECONDS", "5"))
"""Seconds between a running trial's heartbeats (the environment variable is for tests and
for storages far away)."""
GRACE_PERIOD = 4 * HEARTBEAT_INTERVAL
MAX_RETRY = 3
SQLITE_TIMEOUT = 60.0
STORAGE_ENV = "WORKBENCH_STUDY_STORAGE"
"""How `study run --workers` hands the storage URL to its worker processes: in their
environment, where another user's `ps` does not show a password in it."""


class StorageError(UserError):
    """A storage URL that does not parse or cannot be reached."""


def sqlite_url(path: Path) -> str:
    """The storage URL of a SQLite file (the workbench keeps its studies in its own)."""
    return f"sqlite:///{path}"


def _serialise_sqlite_writes(engine: sqlalchemy.Engine) -> None:
    """Every SQLite transaction takes the write lock up front (BEGIN IMMEDIATE).

    pysqlite's deferred transactions read, then try to upgrade to a write lock; two
    processes doing that at once deadlock and one gets "database is locked" at once,
    whatever the timeout. Taking the lock first turns that into a wait of at most
    SQLITE_TIMEOUT seconds.
    """

    @sqlalchemy.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections made before the hooks go; new ones get them


def reason(err: Exception, url: str) -> str:
    """The first line of a database error, without the URL's password."""
    lines = str(getattr(err, "orig", None) or err).strip().splitlines()
    return scrub(lines[0] if lines else type(err).__name__, url)


def open_storage(url: str) -> RDBStorage:
    """Optuna's RDB storage at ``url`` with heartbeats and retries; one clear error if the
    URL is wrong or the database cannot be reached (the password never printed)."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        raise StorageError(
            f"storage URL {masked(url)!r} does not parse; expected e.g. "
            "sqlite:///path/workbench.db or postgresql://user@host/db"
        ) from None
    sqlite = parsed.get_backend_name() == "sqlite"
    engine_kwargs = (
        {"connect_args": {"timeout": SQLITE_TIMEOUT}}
        if sqlite
        else {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    )
    try:
        storage = RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=HEARTBEAT_INTERVAL,
            grace_period=GRACE_PERIOD,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
        )
    except ImportError as err:
        missing = getattr(err.__cause__, "name", None) or err.name
        raise StorageError(
            f"storage {masked(url)!r} needs the database driver {missing!r}, which is not "
            "installed; for PostgreSQL: pip install 'psycopg[binary]'"
        ) from None
    except Exception as err:  # noqa: BLE001 - SQLAlchemy's errors vary by driver
        raise StorageError(f"cannot open storage {masked(url)!r}: {reason(err, url)}") from None
    if sqlite:
        _serialise_sqlite_writes(storage.engine)
    return storage


_shared: dict[str, RDBStorage] = {}
_shared_lock = threading.Lock()


def shared_storage(url: str) -> RDBStorage:
    """``open_storage(url)``, opened once per process and URL, for readers that refresh
    (the TUI's studies screens): opening one takes about 50 ms, mostly Optuna checking the
    schema version through alembic. A reader whose query on it fails calls
    ``forget_storage`` so that the next read opens it afresh (or says it is unreachable)."""
    with _shared_lock:
        storage = _shared.get(url)
    if storage is None:
        opened = open_storage(url)  # outside the lock: a far database may take seconds
        with _shared_lock:
            storage = _shared.setdefault(url, opened)
        if storage is not opened:  # another thread opened it meanwhile
            opened.engine.dispose()
    return storage


def forget_storage(url: str) -> None:
    with _shared_lock:
        storage = _shared.pop(url, None)
    if storage is not None:
        storage.engine.dispose()


optuna.logging.set_verbosity(optuna.logging.WARNING)
# Heartbeats, stale-trial handling and the retry callback are marked experimental; the
# warnings would print on every command.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
