"""How a process that trains hears that it should stop: SIGTERM (`runs stop`, a system
shutdown) and Ctrl+C become a stop event that the runner polls, so every such process (a
foreground run, a background worker, a study worker, `study compare`'s lifetimes) ends
its run the same way: a checkpoint, then ``stopped``.

No torch here: the CLI installs these before it loads an agent.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigterm_sets(event: threading.Event) -> Iterator[None]:
    """Inside the block, SIGTERM sets ``event`` (and still runs the handler installed
    before, which may stop more than this run, e.g. a study worker's trial loop).

    Only the main thread may install signal handlers; elsewhere this does nothing and the
    caller's own handler (if any) is what sets the event.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        event.set()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


class StopSignals:
    """For a command that trains in this process: the first Ctrl+C or a SIGTERM sets
    ``event`` (the run checkpoints at its next report or tick, then stops); a second
    Ctrl+C raises KeyboardInterrupt (stopped at once, resuming from the last checkpoint).

    ``interrupted`` counts the Ctrl+Cs, ``terminated`` says whether a SIGTERM came.
    """

    def __init__(self, on_first_interrupt: Callable[[], None] = lambda: None) -> None:
        self.event = threading.Event()
        self.interrupted = 0
        self.terminated = False
        self.on_first_interrupt = on_first_interrupt

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.interrupted += 1
        if self.interrupted > 1:
            raise KeyboardInterrupt
        self.event.set()
        self.on_first_interrupt()

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.terminated = True
        self.event.set()

    def __enter__(self) -> StopSignals:
        self._previous = (
            signal.signal(signal.SIGINT, self._on_sigint),
            signal.signal(signal.SIGTERM, self._on_sigterm),
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self._previous[0])
        signal.signal(signal.SIGTERM, self._previous[1])

    @property
    def exit_code(self) -> int:
        """The shell's convention: 130 after Ctrl+C, 143 after SIGTERM, else 0."""
        if self.interrupted:
            return 130
        return 143 if self.terminated else 0
