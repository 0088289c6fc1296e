"""Background worker processes: start one for a queued run (and reap it when it ends),
stop or resume one, and the worker's own entry point
``python -m workbench.worker RUN_ID --home DIR``.

Nothing here imports torch: listing, stopping and resuming runs stay fast; only the
worker process itself loads the runner.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time

from envs.errors import UserError
from workbench.stopping import StopSignals
from workbench.store import RunRecord, Store, StoreUnusable


def launch(store: Store, run_id: int) -> int:
    """Start a worker process for a queued run, detached from this one; return its pid.

    The worker has its own session, so it outlives the CLI or TUI that started it. While
    this process lives, a daemon thread waits on the worker, so a finished worker does
    not stay a zombie (``<defunct>``) under a long-lived parent such as the TUI.
    """
    path = store.log_path(run_id)
    try:
        log_file = open(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600), "ab")
    except OSError as err:
        message = (
            f"cannot write the run's log {path} ({err.strerror}); make {path.parent} "
            f"writable, then: workbench runs resume {run_id}"
        )
        store.fail_unclaimed(run_id, message)  # not queued forever with no worker
        raise StoreUnusable(message) from None
    with log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench.worker", str(run_id), "--home", str(store.home)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    threading.Thread(target=process.wait, daemon=True, name=f"reap-worker-{run_id}").start()
    store.set_launch_pid(run_id, process.pid)
    return process.pid


def stop(store: Store, run_id: int, *, wait: float = 10.0) -> RunRecord:
    """Ask a run to stop and wait until its worker has checkpointed and said so."""
    run = store.request_stop(run_id)
    if run.status == "running" and run.pid and run.host == store.host:
        try:
            # Whichever process trains it (a worker, a foreground run, a study worker,
            # `study compare`) sets its stop event: a checkpoint at the next report or tick.
            os.kill(run.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        run = store.get_run(run_id)
    return run


def resume(store: Store, run_id: int) -> RunRecord:
    """Queue a stopped, failed or lost run again and start its worker."""
    notice = store.requeue(run_id).notice
    launch(store, run_id)
    return dataclasses.replace(store.get_run(run_id), notice=notice)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.worker")
    parser.add_argument("run_id", type=int)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    # SIGTERM (from `runs stop` or the system) stops cleanly, with a checkpoint; set here
    # before torch loads, so a stop asked while the worker starts is not lost.
    with StopSignals() as signals:
        from workbench.runner import execute  # torch loads in the worker only

        try:
            store = Store(args.home)
            run = execute(store, args.run_id, stop_event=signals.event)
        except UserError as err:
            print(f"worker: {err}", file=sys.stderr)
            return err.exit_code
    return 0 if run.status in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
