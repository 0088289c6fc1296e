"""Readers of studies, through the service layer (``workbench.service.studies``): the
list as the TUI shows it, one study's trials with the live curves of its running trials
(the agent's main return metric), and a comparison group's table and figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.service import studies as service
from workbench.service.figures import GroupFigure, group_figure
from workbench.service.studies import StudyDetail, StudySummary
from workbench.store import Store

NOT_STARTED = "not started"


@dataclass(frozen=True)
class StudyRow:
    """One line of the studies list: its cells, and what the screen acts on."""

    name: str
    url: str
    group: str | None
    state: str
    cells: tuple[str, ...]


def summary_row(summary: StudySummary) -> StudyRow:
    """A summary as the list shows it: a study no trial of which ever ran is "not started"
    (not "paused"), and done never reads more than the study's N."""
    cells = list(service.list_cells(summary))
    state = summary.state
    if summary.reachable and summary.spec is not None:
        if state == "paused" and not summary.started:
            state = NOT_STARTED
        cells[5] = f"{done(summary)}/{summary.spec.trials}"
        cells[-1] = state
    return StudyRow(summary.name, summary.url, summary.group, state, tuple(cells))


def done(summary: StudySummary) -> int:
    """Lifetimes done, never more than the study's N (a retried trial counts once)."""
    return min(summary.counts.done, summary.spec.trials) if summary.spec else 0


def read_studies(home: Path) -> list[StudyRow]:
    store = Store(home)
    try:
        return [summary_row(summary) for summary in service.list_studies(store)]
    finally:
        store.close()


def read_study(home: Path, name: str, url: str) -> StudyDetail:
    """Raises a UserError when the storage cannot be read (it is opened afresh on the
    next call)."""
    store = Store(home)
    try:
        return service.study_detail(store, name, url)
    finally:
        store.close()


def read_group(home: Path, group: str, lifetimes: int) -> GroupFigure:
    """The group's comparison rows from the fresh lifetimes already trained (none is
    trained here) and its figures' data, read together so the table and the plots show
    the same numbers."""
    store = Store(home)
    try:
        return group_figure(store, group, lifetimes)
    finally:
        store.close()
