"""The Textual application: opens on the runs screen of one store.

Every action is also in the command palette (Ctrl+P), prefixed ``run:``, ``study:`` or
``view:``; ``?`` shows the key bindings of the screen in front.
"""

from __future__ import annotations

import errno
import sys
import termios
from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from workbench.store import Store
from workbench.tui.screens.runs import RunsScreen


class WorkbenchApp(App[None]):
    """Meta-RL Workbench terminal UI."""

    TITLE = "Meta-RL Workbench"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "toggle_help", "Keys"),
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

    def runs_screen(self) -> RunsScreen:
        return next(s for s in self.screen_stack if isinstance(s, RunsScreen))

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_next_theme(self) -> None:
        names = sorted(self.available_themes)
        self.theme = names[(names.index(self.theme) + 1) % len(names)]
        self.notify(f"theme: {self.theme}")

    def _on_runs(self, action: str):
        def run_action() -> None:
            while not isinstance(self.screen, RunsScreen):
                self.pop_screen()
            getattr(self.runs_screen(), f"action_{action}")()

        return run_action

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        runs = [
            ("new run", "Open the launch dialog", "launch"),
            ("stop", "Stop the marked runs (or the one under the cursor)", "stop_run"),
            ("resume", "Resume the marked runs (or the one under the cursor)", "resume_run"),
            ("delete", "Delete the marked runs (asks to confirm)", "delete_runs"),
            ("compare", "Overlay the marked runs' curves", "compare"),
            ("export CSV", "Write the chosen runs' metrics to HOME/exports", "export_runs"),
            ("mark", "Mark or unmark the run under the cursor", "mark"),
        ]
        for title, help_text, action in runs:
            yield SystemCommand(f"run: {title}", help_text, self._on_runs(action))
        yield SystemCommand("study: list studies", "The studies screen", self._on_runs("studies"))
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

    def _open_studies_then(self, action: str):
        def run_action() -> None:
            from workbench.tui.screens.studies import StudiesScreen

            if not isinstance(self.screen, StudiesScreen):
                self._on_runs("studies")()
            self.call_after_refresh(lambda: getattr(self.screen, f"action_{action}")())

        return run_action
