"""The `workbench` console script: loads the CLI so that a Ctrl+C while it loads exits
130 without a traceback (inside a command, Typer already turns Ctrl+C into exit 130)."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from workbench.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (Ctrl+C)\n")
        sys.exit(130)
    cli_main()
