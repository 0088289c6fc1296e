"""Shared fixtures: a throwaway workbench home and a CLI invoker bound to it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

# Rich fixes a console's width for good when COLUMNS is set as the console is built (the
# CLI's consoles are built on import), and pytest-xdist's workers start with COLUMNS=80:
# built without it, the consoles read COLUMNS at every print, which the fixtures set.
os.environ.pop("COLUMNS", None)
# A PostgreSQL store of the developer's own is never the tests' (tests/postgres.py sets it).
os.environ.pop("WORKBENCH_STORE", None)

from workbench.cli import app
from workbench.store import Store

pytest_plugins = ["tests.postgres"]

# Small networks run fastest on one thread (and the runner uses one); a second thread only
# spins against whatever else the machine runs.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever touches the user's real store."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "default-home"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(autouse=True)
def _store_environment() -> Iterator[None]:
    """The CLI runs in this process and records `--home`/`--store` in the environment for
    the workers it starts: each test gets back the environment it began with."""
    saved = {name: os.environ.get(name) for name in ("WORKBENCH_HOME", "WORKBENCH_STORE")}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


class Cli:
    """Runs `workbench ...` in-process with --home appended."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    # Listings of the registries do not open a store, so they take no --home.
    STORELESS = ("agents", "tasks", "baselines")

    def __call__(self, *args: str):
        home = [] if args[0] in self.STORELESS else ["--home", str(self.home)]
        return self.runner.invoke(app, [*args, *home])

    def json(self, *args: str):
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    """The run store of ``home``, closed after the test."""
    store = Store(home)
    yield store
    store.close()


@pytest.fixture
def cli(home: Path) -> Cli:
    return Cli(home)


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.2):
    """Poll until predicate() is truthy; return its value or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def run_row(home: Path, run_id: int):
    store = Store(home)
    try:
        return store.get_run(run_id)
    finally:
        store.close()


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
