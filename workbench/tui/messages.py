"""The messages the TUI's workers post to their screens, one class per kind of result
(toolong's ``messages.py``). A message that carries a whole snapshot ``can_replace`` an
older one still queued, so a burst of refreshes draws once; an incremental one never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message
from textual.worker import Worker, WorkerState

from workbench.service.figures import GroupFigure
from workbench.service.studies import StudyDetail
from workbench.tui.readers.groups import CurveCache, Group
from workbench.tui.readers.runs import CompareData, RowCache, RunUpdate
from workbench.tui.readers.studies import StudyRow

if TYPE_CHECKING:  # the report's module loads torch; the TUI starts without it
    from workbench.service.context_report import ContextReport


class Snapshot(Message):
    """A complete picture: a newer one of the same kind makes an older one pointless."""

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)


@dataclass
class RunsRead(Snapshot):
    """Every run's row; the groups' members' main-metric curves (kept for the next read)
    and the groups' summaries (``readers/groups.py``)."""

    rows: RowCache
    curves: CurveCache = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)


@dataclass
class RunRead(Message):
    """New metric points and log lines of one run: each must be drawn, none replaced."""

    update: RunUpdate


@dataclass
class CompareRead(Snapshot):
    data: CompareData


@dataclass
class StudiesRead(Snapshot):
    rows: list[StudyRow]


@dataclass
class StudyRead(Snapshot):
    data: StudyDetail


@dataclass
class GroupRead(Snapshot):
    """A comparison group's rows and the data of its plots, from one read."""

    figure: GroupFigure


@dataclass
class ContextRead(Message):
    """The context table of chosen runs: each mode on each split (service.context_report)."""

    report: ContextReport


@dataclass
class ActionDone(Message):
    """An action finished off the UI thread: the line to show, and whether the screen's
    data changed (then it reads again now, not at the next tick)."""

    text: str
    changed: bool = True


@dataclass
class RunsLaunched(Message):
    """The launch dialog's runs are queued and their workers started."""

    run_ids: list[int]


@dataclass
class AgentsFound(Message):
    """Plug-in agents the launch dialog can offer (installed, or a typed spec loaded);
    ``select`` is the one to switch to, if any."""

    names: list[str]
    select: str | None = None


@dataclass
class WorkerFailed(Message):
    """A worker of ``screen`` raised: the app's one handler shows it on that screen."""

    screen: object
    error: BaseException
    worker_name: str


class ReportsFailures:
    """Mixed into every screen: a worker that raises is reported to the app, which shows
    it inline (Textual does not bubble a worker's state to the app)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            failure = WorkerFailed(self, event.worker.error, event.worker.name)
            self.app.post_message(failure)  # type: ignore[attr-defined]
