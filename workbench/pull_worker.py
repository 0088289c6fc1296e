"""Workers that pull runs from the store: ``workbench worker [--slots N] [--host-id NAME]``
on any machine that reaches the store (its SQLite file, or a PostgreSQL database every
machine shares). Each slot is a process that claims the oldest run queued for any worker
(``run --queue``; a lost run retried), trains it, and claims the next; the claim holds a
lease the slot renews with its heartbeat. A run whose lease has expired is lost as seen
from any machine, without asking whether a process lives (``Store.refresh_lost``), and
with retries left it is queued again to continue from its last checkpoint.

The supervisor (the ``workbench worker`` process) starts the slots and restarts none:
a slot that ends leaves the others going; SIGTERM (or Ctrl+C) stops every slot with a
checkpoint. Slots die with their supervisor (Linux: ``PR_SET_PDEATHSIG``), so a killed
worker's runs are lost once their lease expires, not trained on by orphans.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from envs.errors import UserError
from workbench.stopping import StopSignals
from workbench.store import Store

IDLE_POLL_SECONDS = 1.0
"""How often an idle slot looks for queued runs."""


def die_with_parent() -> None:
    """Linux: this process is killed when its parent dies (``PR_SET_PDEATHSIG``)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # elsewhere a slot outlives a killed supervisor and finishes its run
    if os.getppid() == 1:  # the supervisor died before this process could ask
        os._exit(1)


def slot(home: Path | None, host_id: str | None, idle_exit: float | None) -> int:
    """One slot: claim, train, repeat; after ``idle_exit`` seconds with nothing queued,
    end. SIGTERM stops the run in hand with a checkpoint, and the slot."""
    die_with_parent()
    with StopSignals() as signals:
        from workbench.runner import execute  # torch loads in the slot only

        store = Store(home)
        if host_id:
            store.host = host_id
        idle_since = time.monotonic()
        while not signals.event.is_set():
            run_id = store.claim_next(os.getpid())
            if run_id is None:
                if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
                signals.event.wait(IDLE_POLL_SECONDS)
                continue
            print(f"slot {os.getpid()} on {store.host}: run {run_id} claimed", flush=True)
            try:
                run = execute(store, run_id, stop_event=signals.event, claimed=True)
            except UserError as err:  # the run's own failure, written to its row
                print(f"slot {os.getpid()}: run {run_id}: {err}", flush=True)
            else:
                print(f"slot {os.getpid()}: run {run_id} {run.status}", flush=True)
            idle_since = time.monotonic()
        store.close()
    return 0


def serve(home: Path | None, slots: int, host_id: str | None, idle_exit: float | None) -> int:
    """Start ``slots`` slot processes and wait for them; SIGTERM or Ctrl+C stops them all
    (each checkpoints the run it trains)."""
    command = [sys.executable, "-m", "workbench.pull_worker", "--slot"]
    command += ["--home", str(home)] if home is not None else []
    command += ["--host-id", host_id] if host_id else []
    command += ["--idle-exit", str(idle_exit)] if idle_exit is not None else []
    children = [subprocess.Popen(command) for _ in range(slots)]
    with StopSignals() as signals:
        while any(child.poll() is None for child in children):
            if signals.event.wait(0.5):
                for child in children:
                    if child.poll() is None:
                        child.send_signal(signal.SIGTERM)
                for child in children:
                    child.wait()
    return max((child.returncode for child in children), default=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.pull_worker")
    parser.add_argument("--slot", action="store_true", help="one slot (the supervisor's child)")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--host-id")
    parser.add_argument("--idle-exit", type=float)
    parser.add_argument("--slots", type=int, default=1)
    args = parser.parse_args(argv)
    if args.slot:
        return slot(args.home, args.host_id, args.idle_exit)
    return serve(args.home, args.slots, args.host_id, args.idle_exit)


if __name__ == "__main__":
    sys.exit(main())
