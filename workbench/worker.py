"""Background worker entry point: ``python -m workbench.worker RUN_ID --home DIR``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from workbench.runner import execute
from workbench.store import Store, StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.worker")
    parser.add_argument("run_id", type=int)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    stop_event = threading.Event()
    # SIGTERM (from `runs stop` or the system) stops cleanly, with a checkpoint.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_event.set())
    try:
        store = Store(args.home)
        run = execute(store, args.run_id, stop_event=stop_event)
    except StoreError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    return 0 if run.status in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
