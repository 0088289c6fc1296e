"""The run store's one connection to its database, SQLite or PostgreSQL, through
SQLAlchemy Core: every statement of the store is a ``text()`` with named parameters
(``:name``; a list bound to an ``IN`` is ``:name`` too, expanded), run on a connection in
autocommit mode, and every write that spans several statements in ``transaction()``.

- SQLite (the embedded store): the connection is the one ``store_open.connect`` makes (WAL,
  a 30 s busy timeout, a foreign file refused before anything changes); a transaction is
  ``BEGIN IMMEDIATE ... COMMIT``, so it takes the write lock up front and writers queue
  instead of failing half-way.
- PostgreSQL (``--store postgresql://...``): the workbench's tables live in their own
  schema, ``workbench``, apart from Optuna's in the same database; a transaction is
  ``BEGIN ... COMMIT`` at READ COMMITTED, and a claim locks the rows it takes.

Nothing here knows runs: the store's modules write the SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult

SCHEMA = "workbench"
"""PostgreSQL: the schema (namespace) of the workbench's tables."""

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class Database:
    """One connection, in autocommit mode, with explicit transactions."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name  # "sqlite" or "postgresql"
        self.connection: Connection = engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        )
        self._depth = 0

    @classmethod
    def sqlite(cls, connect: Any) -> Database:
        """The embedded store: ``connect()`` returns the sqlite3 connection to use."""
        engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool)
        return cls(engine)

    @classmethod
    def postgresql(cls, url: sa.URL) -> Database:
        """A PostgreSQL store (psycopg 3); the workbench's tables are found in its schema
        first. A password not in the URL comes from PGPASSWORD or ~/.pgpass (libpq's)."""
        url = url.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(
            url,
            poolclass=sa.pool.NullPool,
            connect_args={"options": f"-c search_path={SCHEMA}", "connect_timeout": 10},
        )
        return cls(engine)

    @property
    def locking(self) -> str:
        """What ends a SELECT that reads rows a transaction is about to change: on
        PostgreSQL ``FOR UPDATE`` (others wait for this transaction); SQLite's
        ``BEGIN IMMEDIATE`` already serialises writers."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    @property
    def raw(self) -> Any:
        """The DBAPI connection underneath (sqlite3's, for sqlite-utils' migrations)."""
        return self.connection.connection.dbapi_connection

    def execute(self, sql: str, params: Params = None) -> CursorResult:
        """One statement with named parameters; a list of mappings runs it once per item.
        A ``tuple`` or ``list`` value bound to ``:name`` inside ``IN :name`` is expanded."""
        statement = sa.text(sql)
        if isinstance(params, Mapping):
            expanding = [
                sa.bindparam(name, expanding=True)
                for name, value in params.items()
                if isinstance(value, (list, tuple))
            ]
            if expanding:
                statement = statement.bindparams(*expanding)
        return self.connection.execute(statement, params)

    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """The rows of a SELECT as dicts of column name to value."""
        return [dict(row) for row in self.execute(sql, params).mappings()]

    def scalar(self, sql: str, params: Params = None) -> Any:
        return self.execute(sql, params).scalar()

    def insert(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert ``row`` and return its new ``id``."""
        columns = ", ".join(row)
        values = ", ".join(f":{name}" for name in row)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({values})"
        if self.dialect == "postgresql":
            return int(self.scalar(sql + " RETURNING id", row))
        return int(self.execute(sql, row).lastrowid)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: SQLite takes the write lock up front (``BEGIN
        IMMEDIATE``), so a reader never sees half of it and writers queue."""
        begin = "BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN"
        self.connection.exec_driver_sql(begin)
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self._rollback()
            raise
        self._depth -= 1
        try:
            self.connection.exec_driver_sql("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        try:
            self.connection.exec_driver_sql("ROLLBACK")
        except sa.exc.DBAPIError:
            pass  # nothing was open any more (SQLite ends a transaction on some errors)

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


OperationalError = (sa.exc.OperationalError,)
"""What a statement raises when the database cannot do it just now (locked, read-only, a
full disk, a lost connection): SQLAlchemy's wrapper of the driver's error."""


def reason(err: BaseException) -> str:
    """The database's own one-line message behind an SQLAlchemy error (which adds the
    statement and a link), for the one line a user sees."""
    return str(getattr(err, "orig", None) or err).splitlines()[0]
