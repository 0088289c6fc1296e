"""`workbench worker`: take queued runs from the store (this machine's SQLite file, or a
PostgreSQL database every machine reaches with --store) and train them until stopped or,
with --idle-exit, until nothing is left (workbench/pull_worker.py)."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from workbench.cli.common import Home, check_option, open_store, user_errors


@user_errors
def worker(
    slots: Annotated[int, typer.Option(help="Runs trained at once, each in its own process.")] = 1,
    host_id: Annotated[
        str | None,
        typer.Option(help="The name runs show for this worker's host (default: hostname)."),
    ] = None,
    idle_exit: Annotated[
        float | None,
        typer.Option(help="End after this many seconds with no queued run (default: never)."),
    ] = None,
    home: Home = None,
) -> None:
    """Train the runs queued for any worker (`run --queue`), SLOTS at a time; a run whose
    worker is lost is taken again from its last checkpoint while it has --retries left.
    Ctrl+C or SIGTERM stops every slot with a checkpoint."""
    from workbench import pull_worker

    check_option("--slots", slots, 1, 256)
    if idle_exit is not None:
        check_option("--idle-exit", idle_exit, 0, 10**9)
    if host_id is not None and not host_id.strip():
        raise typer.BadParameter("--host-id must not be empty")
    open_store(home).close()  # a store that cannot be opened: one line, here
    name = host_id or socket.gethostname()
    where = os.environ.get("WORKBENCH_STORE") and "the shared store" or "this home's store"
    print(f"worker on {name}: {slots} slot(s) taking queued runs from {where}", flush=True)
    raise typer.Exit(pull_worker.serve(home, slots, host_id, idle_exit))
