"""The Textual application: opens on the runs screen of one store.

Screens never import each other: they open one another through the app's ``open_*``
methods. Every key binding is also in the command palette (Ctrl+P), prefixed by its
screen's area (``run:``, ``compare:``, ``study:``, ``group:``, ``view:``); ``?`` shows
every key of the screen in front. A failure of any screen's worker reaches the app's one
handler (``on_worker_failed``), which says it inline on that screen.
"""

from __future__ import annotations

import errno
import sys
import termios
from collections.abc import Callable, Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from envs.errors import UserError
from workbench.store import Store
from workbench.tui.messages import WorkerFailed
from workbench.tui.screens.compare import CompareView
from workbench.tui.screens.context_view import ContextView
from workbench.tui.screens.create_study import CreateStudyScreen
from workbench.tui.screens.group_view import GroupView
from workbench.tui.screens.launch import LaunchScreen
from workbench.tui.screens.run_view import RunView
from workbench.tui.screens.runs import RunsScreen
from workbench.tui.screens.studies import StudiesScreen
from workbench.tui.screens.study_view import StudyView
from workbench.tui.widgets.message_line import MessageLine

GLOBAL_RUN_COMMANDS = [
    ("new run", "Open the launch dialog", "launch"),
    ("stop", "Stop the marked runs (or the one under the cursor)", "stop_run"),
    ("resume", "Resume the marked runs (or the one under the cursor)", "resume_run"),
    ("delete", "Delete the marked runs (asks to confirm)", "delete_runs"),
    ("compare", "Overlay the marked runs' curves", "compare"),
    ("context table", "The marked runs' context modes on every split", "context"),
    ("export CSV", "Write the chosen runs' metrics to HOME/exports", "export_runs"),
    ("mark", "Mark or unmark the run under the cursor", "mark"),
]
"""Runs-screen actions the palette offers from any screen (it goes back to the runs)."""


def failure_text(error: BaseException, worker_name: str) -> str:
    """A user's error as its own message; anything else as what failed and why, on one
    line (never a traceback)."""
    if isinstance(error, UserError):
        return str(error)
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{worker_name.replace('_', ' ')} failed: {type(error).__name__}: {first_line}"


class WorkbenchApp(App[None]):
    """Meta-RL Workbench terminal UI."""

    TITLE = "Meta-RL Workbench"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("question_mark", "toggle_help", "Keys"),
        Binding("q", "quit", "Quit"),
        Binding("t", "next_theme", "Theme", show=False),
    ]

    def __init__(self, store: Store, refresh_seconds: float = 1.0) -> None:
        super().__init__()
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.sub_title = str(store.path)

    def on_mount(self) -> None:
        self.push_screen(RunsScreen())
        if not self.is_headless:
            self.set_interval(2.0, self.quit_if_terminal_gone)

    def quit_if_terminal_gone(self) -> None:
        """A terminal closed under us (tmux kill-session with `make run` in between, which
        keeps SIGHUP from us) answers EIO: quit instead of spinning on it. Runs train in
        their own processes and go on."""
        try:
            termios.tcgetattr(sys.__stdin__.fileno())
        except termios.error as err:
            if err.args and err.args[0] == errno.EIO:
                self.exit()
        except (OSError, ValueError, AttributeError):
            pass

    # --- the one failure handler ----------------------------------------------------------
    def on_worker_failed(self, event: WorkerFailed) -> None:
        text = failure_text(event.error, event.worker_name)
        lines = event.screen.query(MessageLine)  # type: ignore[attr-defined]
        if lines:
            lines.first().say(text, failure=True)
        else:
            self.notify(text, severity="error", markup=False)  # an error may quote a name

    # --- screens open screens through these -----------------------------------------------
    def open_run(self, run_id: int) -> None:
        self.push_screen(RunView(run_id))

    def open_compare(self, run_ids: list[int]) -> None:
        self.push_screen(CompareView(run_ids))

    def open_context(self, run_ids: list[int]) -> None:
        self.push_screen(ContextView(run_ids))

    def open_members(self, name: str, run_ids: list[int], metric: str) -> None:
        """A group's members (a population, a study's lifetimes) as one median curve of
        their main metric."""
        self.push_screen(CompareView(run_ids, grouped=True, title=name, metric=metric))

    def open_launch(self, done: Callable[[list[int] | None], None], **clone: Any) -> None:
        """The launch dialog, empty or filled with a run's settings (``clone``)."""
        self.push_screen(LaunchScreen(**clone), done)

    def open_studies(self) -> None:
        self.push_screen(StudiesScreen())

    def open_study(self, name: str, url: str) -> None:
        self.push_screen(StudyView(name, url))

    def open_group(self, group: str) -> None:
        self.push_screen(GroupView(group))

    def open_create_study(self, done: Callable[[str | None], None]) -> None:
        self.push_screen(CreateStudyScreen(), done)

    def runs_screen(self) -> RunsScreen:
        return next(s for s in self.screen_stack if isinstance(s, RunsScreen))

    # --- app actions ------------------------------------------------------------------------
    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_next_theme(self) -> None:
        names = sorted(self.available_themes)
        self.theme = names[(names.index(self.theme) + 1) % len(names)]
        self.notify(f"theme: {self.theme}")

    # --- the command palette -------------------------------------------------------------
    def _on_runs(self, action: str) -> Callable[[], None]:
        def run_action() -> None:
            while not isinstance(self.screen, RunsScreen):
                self.pop_screen()
            self.call_later(self.runs_screen().run_action, action)

        return run_action

    def _open_studies_then(self, action: str) -> Callable[[], None]:
        def run_action() -> None:
            if not isinstance(self.screen, StudiesScreen):
                self._on_runs("studies")()
            self.call_after_refresh(lambda: self.call_later(self.screen.run_action, action))

        return run_action

    def binding_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every binding of the screen in front, titled `AREA: description`."""
        prefix = getattr(screen, "PALETTE_PREFIX", None)
        if prefix is None:
            return
        seen = set()
        for binding in screen.BINDINGS:
            if not isinstance(binding, Binding) or binding.action.startswith("app."):
                continue
            if binding.action in seen:
                continue
            seen.add(binding.action)
            title = f"{prefix}: {binding.description.lower()}"
            help_text = binding.tooltip or f"{binding.description} ({binding.key})"
            yield SystemCommand(title, help_text, self._on_screen(screen, binding.action))

    def _on_screen(self, screen: Screen, action: str) -> Callable[[], None]:
        return lambda: self.call_later(screen.run_action, action)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        titles = set()
        for command in self.binding_commands(screen):
            titles.add(command.title)
            yield command
        for title, help_text, action in GLOBAL_RUN_COMMANDS:
            if f"run: {title}" not in titles:
                yield SystemCommand(f"run: {title}", help_text, self._on_runs(action))
        if not isinstance(screen, StudiesScreen):
            yield SystemCommand(
                "study: list studies", "The studies screen", self._on_runs("studies")
            )
            yield SystemCommand(
                "study: create study", "Create a study", self._open_studies_then("create_study")
            )
        yield SystemCommand("view: runs", "Back to the runs table", self._on_runs("filter"))
        yield SystemCommand(
            "view: toggle auto-refresh",
            "Pause or resume live updates",
            self._on_runs("toggle_pause"),
        )
        yield SystemCommand("view: next theme", "Cycle the colour theme", self.action_next_theme)
        yield SystemCommand("view: key bindings", "Show or hide the keys", self.action_toggle_help)
