"""One study worker process: ``python -m workbench.study_worker NAME --home DIR``.

`workbench study run --workers W` starts W of them (the storage URL in their environment,
``WORKBENCH_STUDY_STORAGE``, where another user's `ps` does not show a password). Each
takes the study's queued trials (up to ``--population`` at once, trained as one population
on ``--device``) and trains them as runs of its home's store; it prints one line per
trial.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys

from envs.errors import UserError
from studies.storage import STORAGE_ENV
from studies.worker import work
from workbench.stopping import StopSignals
from workbench.store import Store
from workbench.trials import RunTrainer


def die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (`kill -9` of `study run` ends its workers,
    whose trials then come back through the heartbeat)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    from workbench.service.studies import outcome_line

    parser = argparse.ArgumentParser(prog="python -m workbench.study_worker")
    parser.add_argument("name")
    parser.add_argument(
        "--storage",
        default=os.environ.get(STORAGE_ENV),
        help=f"database URL; default ${STORAGE_ENV} (which keeps a password out of `ps`)",
    )
    parser.add_argument("--home", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--die-with-parent", action="store_true")
    parser.add_argument("--population", type=int, default=None)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    if not args.storage:
        parser.error(f"give --storage URL or set {STORAGE_ENV}")
    if args.die_with_parent:
        die_with_parent()
    # SIGTERM (its parent stopping, `runs stop` on its trial's run) and the Ctrl+C its
    # terminal sends the whole process group: the trial checkpoints and is re-queued.
    try:
        store = Store(args.home)
        try:
            with StopSignals() as signals:
                work(
                    args.name,
                    args.storage,
                    RunTrainer(store, args.device),
                    population=args.population,
                    worker_index=args.index,
                    on_outcome=lambda outcome: print(outcome_line(outcome), flush=True),
                    stop_event=signals.event,
                )
        finally:
            store.close()
    except UserError as err:
        print(f"worker {args.index}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
