"""Background worker processes: start one for a queued run or population (and reap it when
it ends), stop or resume runs, and the worker's own entry point
``python -m workbench.worker RUN_ID [RUN_ID ...] --home DIR`` (several ids, or a member of
a population: the runs train as populations in that one process).

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
from collections.abc import Sequence

from envs.errors import UserError
from workbench.stopping import StopSignals
from workbench.store import RESUMABLE, RunRecord, Store, StoreError, StoreUnusable


def launch(store: Store, run_id: int | Sequence[int]) -> int:
    """Start a worker process for a queued run (or for several, trained as populations in
    that one process), detached from this one; return its pid.

    The worker has its own session, so it outlives the CLI or TUI that started it. While
    this process lives, a daemon thread waits on the worker, so a finished worker does
    not stay a zombie (``<defunct>``) under a long-lived parent such as the TUI. The
    process's own output (a crash's traceback) goes to the first run's log.
    """
    run_ids = [run_id] if isinstance(run_id, int) else list(run_id)
    run_id = run_ids[0]
    path = store.log_path(run_id)
    try:
        log_file = open(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600), "ab")
    except OSError as err:
        message = (
            f"cannot write the run's log {path} ({err.strerror}); make {path.parent} "
            f"writable, then: workbench runs resume {run_id}"
        )
        for each in run_ids:
            store.fail_unclaimed(each, message)  # not queued forever with no worker
        raise StoreUnusable(message) from None
    with log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench.worker",
                *map(str, run_ids),
                "--home",
                str(store.home),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    threading.Thread(target=process.wait, daemon=True, name=f"reap-worker-{run_id}").start()
    for each in run_ids:
        store.set_launch_pid(each, process.pid)
    return process.pid


def stop(store: Store, run_id: int, *, wait: float = 10.0) -> RunRecord:
    """Ask a run to stop and wait until its worker has checkpointed and said so."""
    run = store.request_stop(run_id)
    # A process training other runs too (a population's members) reads each member's flag
    # and stops that member alone; a SIGTERM would stop them all.
    alone = not store.shares_process(run)
    if run.status == "running" and run.pid and run.host == store.host and alone:
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


def resume_together(store: Store, run_ids: Sequence[int]) -> list[RunRecord]:
    """Queue these stopped, failed or lost runs again (all checked first: none is queued
    when one cannot resume) and start ONE worker that trains them as populations."""
    for run_id in run_ids:
        run = store.get_run(run_id)
        if run.status not in RESUMABLE:
            raise StoreError(
                f"run {run_id} is {run.status}; only {', '.join(RESUMABLE)} runs resume"
            )
    notices = {run_id: store.requeue(run_id).notice for run_id in run_ids}
    launch(store, run_ids)
    return [dataclasses.replace(run, notice=notices[run.id]) for run in store.get_runs(run_ids)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.worker")
    parser.add_argument("run_ids", type=int, nargs="+")
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    # SIGTERM (from `runs stop` or the system) stops cleanly, with a checkpoint; set here
    # before torch loads, so a stop asked while the worker starts is not lost.
    with StopSignals() as signals:
        # torch loads in the worker only
        from workbench.population_runner import execute_population
        from workbench.runner import execute

        try:
            store = Store(args.home)
            first = store.get_run(args.run_ids[0])
            if len(args.run_ids) == 1 and first.population is None:
                runs = [execute(store, first.id, stop_event=signals.event)]
            else:
                runs = execute_population(store, args.run_ids, stop_event=signals.event)
        except UserError as err:
            print(f"worker: {err}", file=sys.stderr)
            return err.exit_code
    return 0 if all(run.status in ("completed", "stopped") for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
