"""The dialog that edits what a user writes about a run: its name, tags and note (the run
view's ``l``). Dismissed with the three texts, or None when cancelled; checking them is
the service's (``workbench.service.labels``), so the CLI and the TUI refuse the same."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea


@dataclass(frozen=True)
class Labels:
    name: str
    tags: str
    """Tags as typed: separated by spaces or commas."""
    note: str


class LabelsModal(ModalScreen[Labels | None]):
    """Name, tags and note of run ``run_id``; ctrl+s or Save keeps them, Esc drops them."""

    DEFAULT_CSS = """
    LabelsModal { align: center middle; }
    LabelsModal > Vertical {
        width: 80; max-width: 95%; height: auto;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    LabelsModal TextArea { height: 6; }
    LabelsModal Horizontal { width: auto; height: auto; margin-top: 1; }
    LabelsModal Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, run_id: int, labels: Labels) -> None:
        super().__init__()
        self.run_id, self.labels = run_id, labels

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"run {self.run_id}: name, tags and note (ctrl+s saves)"))
            yield Input(self.labels.name, placeholder="name", id="labels-name")
            yield Input(
                self.labels.tags, placeholder="tags: words, e.g. baseline paper", id="labels-tags"
            )
            yield TextArea(self.labels.note, id="labels-note", soft_wrap=True)
            with Horizontal():
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#labels-note", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        self.dismiss(
            Labels(
                self.query_one("#labels-name", Input).value,
                self.query_one("#labels-tags", Input).value,
                self.query_one("#labels-note", TextArea).text,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
