"""What a user writes about a run: its name, tags and a note (`runs rename|tag|untag|note`,
the TUI's runs table and run view). Checked here once for both: text from users is data,
so it may hold markup, but never a control character (an escape sequence in a name would
drive the terminal of whoever lists runs)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from envs.errors import UserError
from workbench.store import RunRecord, Store

MAX_TAG = 64
"""Characters in one tag: a label, not a sentence (the note is for sentences)."""
MAX_NOTE = 10_000


def _control_free(text: str, what: str, field: str, *, newlines: bool = False) -> None:
    allowed = {"\n"} if newlines else set()
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise UserError(f"{what} {text[:40]!r}: no control characters (tabs, escapes)", field=field)


def check_tag(tag: str) -> str:
    """A tag as stored: stripped, non-empty, one word of at most MAX_TAG characters."""
    tag = tag.strip()
    if not tag or any(c.isspace() for c in tag) or len(tag) > MAX_TAG:
        raise UserError(
            f"tag {tag[:40]!r}: one word of 1 to {MAX_TAG} characters, no spaces "
            "(e.g. baseline, paper-fig-2)",
            field="tag",
        )
    _control_free(tag, "tag", "tag")
    return tag


def check_tags(tags: Iterable[str]) -> list[str]:
    checked = [check_tag(tag) for tag in tags]
    if not checked:
        raise UserError("give at least one tag", field="tag")
    return checked


def parse_tags(text: str) -> list[str]:
    """Tags typed in one line (the TUI's tag field): separated by spaces or commas."""
    return check_tags(text.replace(",", " ").split())


def check_name(name: str) -> str:
    if not name.strip():
        raise UserError("a run's name cannot be empty", field="name")
    _control_free(name, "name", "name")
    return name


def check_note(note: str) -> str:
    """The note as stored: stripped; lines are kept."""
    if len(note) > MAX_NOTE:
        raise UserError(f"a note holds at most {MAX_NOTE:,} characters", field="note")
    _control_free(note, "note", "note", newlines=True)
    return note.strip()


def rename(store: Store, run_id: int, name: str) -> RunRecord:
    return store.rename(run_id, check_name(name))


def tag(store: Store, run_id: int, tags: Iterable[str]) -> RunRecord:
    return store.retag(run_id, add=check_tags(tags))


def untag(store: Store, run_id: int, tags: Iterable[str]) -> RunRecord:
    return store.retag(run_id, remove=check_tags(tags))


def set_note(store: Store, run_id: int, note: str) -> RunRecord:
    """Replace the run's note (empty text removes it); lines are kept."""
    return store.set_note(run_id, check_note(note))


def with_tag(runs: list[RunRecord], tags: Iterable[str]) -> list[RunRecord]:
    """The runs carrying every one of ``tags``."""
    wanted = set(tags)
    return [run for run in runs if wanted <= set(run.tags)]
