"""A yes/no dialog (posting's ``ConfirmationModal``): dismissed with True or False."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmationModal(ModalScreen[bool]):
    """Asks ``question``; y, Enter (or ``confirm_key``) say yes, n and Esc say no."""

    DEFAULT_CSS = """
    ConfirmationModal { align: center middle; }
    ConfirmationModal > Vertical {
        width: auto; max-width: 90%; height: auto;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmationModal #confirm-text { width: auto; max-width: 80; margin-bottom: 1; }
    ConfirmationModal Horizontal { width: auto; height: auto; }
    ConfirmationModal Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, confirm_key: str | None = None) -> None:
        super().__init__()
        self.question = question
        if confirm_key:  # e.g. d again for delete
            self._bindings.bind(confirm_key, "answer(True)", "Yes", show=False)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), id="confirm-text")
            with Horizontal():
                yield Button("Yes", variant="error", id="yes")
                yield Button("No", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
