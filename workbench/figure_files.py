"""Figure files as every command writes them (`study compare --plot`, `workbench plot`,
the TUI's plot export): the path checked before any work, and the save. No matplotlib
import here: callers hand in a Figure they drew."""

from __future__ import annotations

from pathlib import Path

from envs.config import ConfigError
from envs.errors import UserError

FIGURE_SUFFIXES = (".png", ".svg")
"""What `study compare --plot` writes."""


def check_figure_path(
    path: Path, option: str = "--plot", suffixes: tuple[str, ...] = FIGURE_SUFFIXES
) -> None:
    """A figure file can be written there: one of ``suffixes`` in a directory that exists
    (``option`` names the option in the message; `workbench plot --out` takes .pdf too)."""
    field = option.lstrip("-")
    if path.suffix.lower() not in suffixes:
        kinds = " or ".join(", ".join(suffixes).rsplit(", ", 1))
        raise ConfigError(f"{option} takes a {kinds} path, not {str(path)!r}", field=field)
    if not path.parent.is_dir():
        raise ConfigError(
            f"{option} {str(path)!r}: no directory {str(path.parent)!r}; create it first",
            field=field,
        )
    if path.is_dir():
        raise ConfigError(f"{option} {str(path)!r} is a directory; give a file name", field=field)


def save_figure(fig, path: Path, dpi: int = 150) -> None:
    """Save a matplotlib figure as the file ``path``'s suffix says; an SVG carries no date
    (the same figure data gives the same file) and keeps its text as text."""
    kind = path.suffix.lower()[1:]
    metadata = {"Date": None} if kind in ("svg", "pdf") else {}
    try:
        fig.savefig(path, format=kind, dpi=dpi, metadata=metadata)
    except OSError as err:
        raise UserError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
