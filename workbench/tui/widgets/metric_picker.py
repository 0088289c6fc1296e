"""A list of a run's metrics to pick the plotted one from (the `M` key beside `m`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static


class MetricPicker(ModalScreen[str | None]):
    """Dismissed with the chosen metric key, or None (Esc)."""

    DEFAULT_CSS = """
    MetricPicker { align: center middle; }
    MetricPicker > Vertical {
        width: 60; max-width: 90%; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    MetricPicker OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, keys: list[str], current: str | None) -> None:
        super().__init__()
        self.keys, self.current = keys, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Plot which metric?[/b]  (Enter picks, Esc cancels)")
            yield OptionList(*self.keys, id="metric-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.keys:
            options.highlighted = self.keys.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.keys[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
