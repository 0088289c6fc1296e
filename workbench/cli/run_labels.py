"""``workbench runs rename|tag|untag|note``: what a user writes about a run (registered on
the ``runs`` app by ``workbench.cli.runs``)."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli.common import Home, console, open_store, user_errors
from workbench.service import labels

RunId = Annotated[int, typer.Argument(help="Run id, see `workbench runs ls`.")]
Tags = Annotated[list[str], typer.Argument(help="One or more tags (words, no spaces).")]


def _said(text: str) -> None:
    # Names, tags and notes are data: printed with markup off, whatever they hold.
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@user_errors
def rename(
    run_id: RunId,
    name: Annotated[str, typer.Argument(help="The new name.")],
    home: Home = None,
) -> None:
    """Give a run a new name (listings, the TUI, exports and plots show it)."""
    run = labels.rename(open_store(home), run_id, name)
    _said(f"run {run.id} is now named {run.name}")


@user_errors
def tag(run_id: RunId, tags: Tags, home: Home = None) -> None:
    """Add tags to a run; `runs ls --tag T` lists the runs carrying T."""
    run = labels.tag(open_store(home), run_id, tags)
    _said(f"run {run.id} tags: {' '.join(run.tags)}")


@user_errors
def untag(run_id: RunId, tags: Tags, home: Home = None) -> None:
    """Remove tags from a run (a tag it does not carry is ignored)."""
    run = labels.untag(open_store(home), run_id, tags)
    _said(f"run {run.id} tags: {' '.join(run.tags) or '(none)'}")


@user_errors
def note(
    run_id: RunId,
    text: Annotated[str, typer.Argument(help='The note; "" removes it.')],
    home: Home = None,
) -> None:
    """Write a note on a run (replacing the one it had); `runs show` prints it."""
    run = labels.set_note(open_store(home), run_id, text)
    _said(f"run {run.id} note: {run.note}" if run.note else f"run {run.id} has no note")
