"""Pieces every CLI command shares: the --home option, opening the store, user errors."""

from __future__ import annotations

import functools
import json
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from envs.errors import UserError

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
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and exit code 2 (the user's input was wrong) or, for an
    environment failure, 1."""
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


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


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Agent settings (top-level keys) and task settings (a ``[task]`` table) of a TOML file."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as err:
        fail(f"cannot read config file {path}: {err.strerror}")
    except tomllib.TOMLDecodeError as err:
        fail(f"config file {path} is not valid TOML: {err}")
    task = data.pop("task", {})
    if not isinstance(task, dict):
        fail(f"config file {path}: 'task' must be a table ([task]) of task parameters")
    return data, task


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
