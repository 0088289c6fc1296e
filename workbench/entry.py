"""The `workbench` console script: loads the CLI so that a Ctrl+C while it loads exits
130 without a traceback (inside a command, Typer already turns Ctrl+C into exit 130).

torch is the one import that a Ctrl+C must not interrupt: its C++ start-up calls back
into Python, and a KeyboardInterrupt raised there reaches pybind11, which aborts the
process (SIGABRT, "terminate called after throwing ... KeyboardInterrupt"). So while
torch loads, SIGINT is only noted, and raised as soon as the load has finished."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import signal
import sys
import threading
from types import FrameType, ModuleType
from typing import Any

_UNINTERRUPTIBLE = frozenset({"torch"})


class _InterruptAfterLoading(importlib.abc.Loader):
    """Wraps a loader: SIGINT during `exec_module` is held back until it returns."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._inner, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if threading.current_thread() is not threading.main_thread():
            self._inner.exec_module(module)  # signals only reach the main thread
            return
        interrupted: list[bool] = []

        def note(signum: int, frame: FrameType | None) -> None:
            interrupted.append(True)

        previous = signal.signal(signal.SIGINT, note)
        try:
            self._inner.exec_module(module)
        finally:
            signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt


class _LoadUninterrupted(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in _UNINTERRUPTIBLE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _InterruptAfterLoading(spec.loader)
        return spec


def main() -> None:
    sys.meta_path.insert(0, _LoadUninterrupted())
    try:
        from workbench.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (Ctrl+C)\n")
        sys.exit(130)
    cli_main()
