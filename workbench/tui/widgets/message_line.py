"""The line at the bottom of a screen where outcomes and failures are said."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class MessageLine(Static):
    """What the last action did, or why a read or an action failed (the app's failure
    handler writes into the first one on the failing worker's screen)."""

    DEFAULT_CSS = """
    MessageLine { height: auto; padding: 0 1; color: $warning; }
    MessageLine.failure { color: $error; }
    """

    def say(self, text: str, failure: bool = False) -> None:
        """Show ``text`` as it is: names and errors in it are data, never markup."""
        self.update(Text(text))
        self.set_class(failure, "failure")

    def clear_failure(self) -> None:
        """A read worked again: a failure said before is over (an outcome stays)."""
        if self.has_class("failure"):
            self.say("")
