"""A throwaway PostgreSQL server for the tests (one per test session and xdist worker, on
a loopback port, trusting local connections), a fresh database per test, and ``backend``:
the store tests' parameter, SQLite or PostgreSQL (``$WORKBENCH_STORE`` set, so every
``Store(home)`` of the test, and every process it starts, opens that database).

Without the server's binaries the PostgreSQL cases skip, except on CI (``.ci/run``
installs them), where they fail."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import pytest


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT``, a server stopped and removed at the end."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        reason = "no PostgreSQL server binaries (initdb, pg_ctl); apt-get install postgresql"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (.ci/run installs them)")
        pytest.skip(reason)
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    data = tempfile.mkdtemp(prefix="workbench-pg-")
    if as_root:
        shutil.chown(data, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "check": True}
    subprocess.run([*run_as, initdb, "-D", data, "-A", "trust", "-U", "postgres"], **quiet)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [*run_as, pg_ctl, "-D", data, "-o", options, "-l", f"{data}/log", "-w", "start"]
    subprocess.run(start, **quiet)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", data, "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped afterwards."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        f"{postgres_server.replace('postgresql:', 'postgresql+psycopg:')}/postgres",
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store's backend for this test: the home's SQLite file, or a fresh PostgreSQL
    database named by ``$WORKBENCH_STORE``."""
    if request.param == "postgresql":
        monkeypatch.setenv("WORKBENCH_STORE", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("WORKBENCH_STORE", raising=False)
    return request.param
