"""The Textual application: opens on the runs screen of one store."""

from __future__ import annotations

from textual.app import App

from workbench.store import Store
from workbench.tui.screens.runs import RunsScreen


class WorkbenchApp(App[None]):
    """Meta-RL Workbench terminal UI."""

    TITLE = "Meta-RL Workbench"
    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, store: Store, refresh_seconds: float = 1.0) -> None:
        super().__init__()
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.sub_title = str(store.path)

    def on_mount(self) -> None:
        self.push_screen(RunsScreen())
