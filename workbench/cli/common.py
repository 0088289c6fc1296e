"""Pieces every CLI command shares: the --home option, opening the store, user errors."""

from __future__ import annotations

import functools
import stat
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from envs.errors import UserError
from workbench.format import json_text

if TYPE_CHECKING:
    from workbench.store import Store

console = Console()
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

Home = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="WORKBENCH_HOME",
        help="Workbench directory (store, checkpoints, logs). Default: the user data dir.",
        show_default=False,
    ),
]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="A PostgreSQL database every machine shares for runs, metrics and studies "
        "(postgresql://USER@HOST[:PORT]/DATABASE; the password from PGPASSWORD or "
        "~/.pgpass). Default: $WORKBENCH_STORE, else the home's SQLite file.",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and exit code 2 (the user's input was wrong) or, for an
    environment failure, 1."""
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


MAX_TASKS = 1_000_000
"""Most sampled tasks `eval`, `baselines` and `report` play (a million meta-episodes)."""


def check_option(option: str, value: float, low: float, high: float) -> None:
    """Refuse a number option outside [low, high] (NaN too) with one line, exit 2."""
    if not low <= value <= high:
        fail(f"{option} must be {low:,} to {high:,}, got {value}")


def user_errors(command: F) -> F:
    """Turn a UserError raised by a command (a config, store or option error) into one
    line and exit 2; an EnvironmentFailure (disk full, read-only store) exits 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as err:
            fail(str(err), err.exit_code)

    return wrapper  # type: ignore[return-value]


def open_store(home: Path | None) -> Store:
    from workbench.store import Store

    return Store(home)


def parse_assignments(items: list[str] | None, option: str) -> dict[str, str]:
    """``["key=value", ...]`` from repeated --set options, refusing malformed ones."""
    values: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"{option} {item!r} is not key=value, e.g. {option} discount=0.95")
        values[key.strip()] = value
    return values


MAX_CONFIG_BYTES = 1 << 20
"""A config file is a few lines of TOML; reading stops after 1 MiB (``--config /dev/zero``
would otherwise fill the memory)."""


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Agent settings (top-level keys) and task settings (a ``[task]`` table) of a TOML file."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # /dev/zero, a FIFO, a directory
            fail(f"config file {path} is not a regular file; give a TOML file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        fail(f"cannot read config file {path}: {err.strerror or err}")
    if len(raw) > MAX_CONFIG_BYTES:
        fail(f"config file {path} is larger than {MAX_CONFIG_BYTES >> 20} MiB; give a TOML file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        fail(f"config file {path} is not UTF-8 text; give a TOML file")
    except tomllib.TOMLDecodeError as err:
        fail(f"config file {path} is not valid TOML: {err}")
    task = data.pop("task", {})
    if not isinstance(task, dict):
        fail(f"config file {path}: 'task' must be a table ([task]) of task parameters")
    return data, task


def print_json(value: Any) -> None:
    """Every ``--json`` output: valid JSON, NaN and infinities as null with ``KEY_raw``
    beside them (``workbench.format.json_text``)."""
    sys.stdout.write(json_text(value) + "\n")
