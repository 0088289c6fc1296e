"""Loading plug-in agents and task families: a file (``path/file.py:Class``), a module
(``package.module:Class``) or an entry point (``workbench.agents``, ``workbench.tasks``).

The registries below ``workbench`` know only their built-in names; they are handed these
loaders when ``workbench`` is imported (``workbench/__init__.py``), so every process of
ours has them: the CLI, the TUI, background workers, study workers. A loader returns
``envs.plugins.Loaded``: the name runs record (a file spec made absolute, so a run
resumes from any directory), the object, and the SHA-256 of the file that defines it,
which a run records so that a resume can refuse a changed source. Nothing here imports
torch or gymnasium: the user's file does, when it is loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from envs.config import ConfigError, suggest
from envs.plugins import Loaded

AGENT_GROUP = "workbench.agents"
TASK_GROUP = "workbench.tasks"


def load_agent(name: str) -> Loaded | None:
    """The plug-in agent ``name`` names, None if it names none, or a ConfigError line."""
    return load_plugin(name, AGENT_GROUP, "agent")


def load_task(name: str) -> Loaded | None:
    """The plug-in task family ``name`` names, None if it names none, or a ConfigError."""
    return load_plugin(name, TASK_GROUP, "task")


def load_plugin(name: str, group: str, what: str) -> Loaded | None:
    """A spec with a colon is a file or a module and its attribute; a plain name is looked
    up among the installed entry points of ``group`` (None when none has it)."""
    if ":" not in name:
        entry = entry_point(group, name)
        if entry is None:
            return None
        try:
            obj = entry.load()
        except Exception as err:  # the package's own import failed: say so in one line
            raise ConfigError(
                f"{what} {name!r}: entry point {entry.value} ({group}) does not load: "
                f"{first_line(err)}"
            ) from None
        return Loaded(name, obj, *source_of(obj))
    target, _, attribute = name.rpartition(":")
    if not target or not attribute:
        raise ConfigError(f"{what} {name!r}: give path/file.py:Class or package.module:Class")
    if is_file_spec(target):
        path = Path(target).expanduser().resolve()
        module = load_file(path, name, what)
        name = f"{path}:{attribute}"
    else:
        module = import_module(target, name, what)
    obj = getattr(module, attribute, None)
    if obj is None:
        public = [key for key in vars(module) if not key.startswith("_")]
        raise ConfigError(
            f"{what} {name!r}: {target} has no {attribute!r}{suggest(attribute, public)}"
        )
    return Loaded(name, obj, *source_of(obj))


def is_file_spec(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def load_file(path: Path, spec: str, what: str) -> Any:
    """The module of a Python file, imported under a name derived from its path (the same
    in every process, registered in ``sys.modules`` as dataclasses need)."""
    if not path.is_file():
        raise ConfigError(f"{what} {spec!r}: no file {path}; check the path")
    module_name = "workbench_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if module_name in sys.modules:
        return sys.modules[module_name]
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"{what} {spec!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException as err:
        del sys.modules[module_name]
        if not isinstance(err, Exception):
            raise
        raise ConfigError(f"{what} {spec!r}: {path} fails to import: {first_line(err)}") from None
    return module


def import_module(target: str, spec: str, what: str) -> Any:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as err:
        if err.name and (target == err.name or target.startswith(f"{err.name}.")):
            raise ConfigError(
                f"{what} {spec!r}: no module named {target!r}; install its package or put "
                "it on PYTHONPATH (a file is named path/file.py:Class)"
            ) from None
        raise ConfigError(
            f"{what} {spec!r}: module {target} fails to import: {first_line(err)}"
        ) from None
    except Exception as err:
        raise ConfigError(
            f"{what} {spec!r}: module {target} fails to import: {first_line(err)}"
        ) from None


def entry_point(group: str, name: str) -> metadata.EntryPoint | None:
    found = [entry for entry in metadata.entry_points(group=group) if entry.name == name]
    return found[0] if found else None


def entry_point_names(group: str = AGENT_GROUP) -> list[str]:
    """The names installed packages give ``group`` (``workbench.agents`` by default)."""
    return sorted({entry.name for entry in metadata.entry_points(group=group)})


def source_of(obj: Any) -> tuple[str | None, str | None]:
    """(file, SHA-256 of its bytes) of the source that defines ``obj`` (its class)."""
    cls = obj if isinstance(obj, type) else type(obj)
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:  # defined in C or interactively
        return None, None
    if path is None:
        return None, None
    return path, source_sha256(path)


def source_sha256(path: str | Path) -> str | None:
    """SHA-256 of a source file's bytes, None when it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    kind = type(err).__name__
    return f"{kind}: {text.splitlines()[0]}" if text else kind
