"""The one error type for mistakes a user can fix: the CLI prints its message on one line
and exits 2, the TUI shows it inline (beside the field it names, when it names one)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a state the user must change; the message says what and how.

    ``field`` names the config field (or option) the error belongs to, when there is one,
    so a form can place the message beside that field instead of matching its text.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    exit_code = 2
    """The CLI's exit code: 2, the user's input was wrong."""


class EnvironmentFailure(UserError):
    """The machine refused (disk full, read-only store, no permission): the message names
    the file and what to free or change. The CLI prints it on one line and exits 1."""

    exit_code = 1
