"""The processes a study run starts: W worker processes whose lines are relayed, and
detached `workbench study ...` commands that outlive the UI that started them."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from envs.errors import UserError
from studies.storage import STORAGE_ENV

OnLine = Callable[[str, "int | None"], None]
"""Receives each line a study run prints: the text, and the worker process it came from
(None for a run in this process)."""


def run_workers(
    name: str,
    url: str,
    home: Path,
    workers: int,
    on_line: OnLine,
    stop: threading.Event | None,
    population: int | None = None,
    device: str | None = None,
) -> None:
    """W worker processes, their lines relayed; Ctrl+C or ``stop`` ends them (trials
    re-queued). Each takes up to ``population`` trials at once (default: the study's) and
    trains them on ``device``."""
    options = [] if population is None else ["--population", str(population)]
    options += [] if device is None else ["--device", device]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench.study_worker",
                name,
                "--home",
                str(home),
                "--index",
                str(index),
                "--die-with-parent",
                *options,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=os.environ | {STORAGE_ENV: url},
        )
        for index in range(workers)
    ]
    selector = selectors.DefaultSelector()
    for index, process in enumerate(processes):
        selector.register(process.stdout, selectors.EVENT_READ, index)
    open_pipes = len(processes)
    stopping = False
    try:
        while open_pipes:
            if stop is not None and stop.is_set() and not stopping:
                stopping = True
                terminate(processes)
            for key, _ in selector.select(timeout=0.5):
                line = key.fileobj.readline()
                if not line:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
                    continue
                on_line(line.rstrip(), key.data)
    except KeyboardInterrupt:
        terminate(processes)
    for process in processes:
        process.wait()
    failed = [i for i, p in enumerate(processes) if p.returncode not in (0, -signal.SIGTERM)]
    if failed:
        raise UserError(f"worker(s) {', '.join(map(str, failed))} exited with an error (see above)")


def terminate(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)


def detached(home: Path, log_name: str, *args: str) -> Path:
    log = home / "logs" / log_name
    log.parent.mkdir(exist_ok=True)
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "--home", str(home), *args],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Reap it when it ends, so a long-lived TUI keeps no <defunct> child.
    threading.Thread(target=process.wait, daemon=True, name=f"reap-{process.pid}").start()
    return log
