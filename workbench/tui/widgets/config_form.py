"""A form generated from a Config class: one row per field, typed input, help as tooltip,
and the field's own error beside it as soon as the text is wrong."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static, Switch

from envs.config import Config, ConfigError, FieldInfo, fields, parse_value


def field_error(info: FieldInfo, text: str) -> str | None:
    """Why ``text`` is not a valid value of the field, or None."""
    try:
        value = parse_value(info, text)
    except ConfigError as err:
        return str(err)
    if info.range is not None and not info.range.contains(value):
        return f"{info.name}={value!r} is out of range: allowed {info.range}"
    return None


def tooltip(info: FieldInfo) -> str:
    text = f"{info.name} ({info.type_name}, default {info.default!r})"
    if info.range is not None:
        text += f", allowed {info.range}"
    return f"{text}\n{info.help}" if info.help else text


class ConfigForm(Vertical):
    """Rows for the fields of ``config_cls``, starting from ``values`` (else defaults)."""

    DEFAULT_CSS = """
    ConfigForm { height: auto; }
    ConfigForm .field-row { height: auto; }
    ConfigForm .field-name { width: 24; padding: 0 1 0 0; }
    ConfigForm Input { width: 20; height: 1; border: none; padding: 0 1; }
    ConfigForm Input:focus { background: $boost; }
    ConfigForm Switch { height: 1; border: none; padding: 0; }
    ConfigForm .field-error { color: $error; padding: 0 0 0 1; width: 1fr; }
    """

    def __init__(
        self, config_cls: type[Config], values: dict[str, Any] | None = None, *, id: str
    ) -> None:
        super().__init__(id=id)
        self.infos = {info.name: info for info in fields(config_cls)}
        self.initial = values or {}

    def compose(self) -> ComposeResult:
        for name, info in self.infos.items():
            value = self.initial.get(name, info.default)
            with Horizontal(classes="field-row"):
                yield Label(name, classes="field-name").with_tooltip(tooltip(info))
                if info.type is bool:
                    yield Switch(value=bool(value), name=name).with_tooltip(tooltip(info))
                else:
                    yield Input(str(value), name=name).with_tooltip(tooltip(info))
                yield Static("", classes="field-error", name=name)

    def _error_label(self, name: str) -> Static:
        return next(w for w in self.query(".field-error") if w.name == name)

    def on_input_changed(self, event: Input.Changed) -> None:
        name = event.input.name
        if name in self.infos:
            self._error_label(name).update(field_error(self.infos[name], event.value) or "")

    def values(self) -> dict[str, Any]:
        """Typed values of the fields that differ from their defaults (None if any field
        is invalid; the errors then show beside the fields)."""
        result: dict[str, Any] = {}
        valid = True
        for widget in self.query("Input, Switch"):
            info = self.infos[widget.name]
            if isinstance(widget, Switch):
                value = widget.value
            else:
                error = field_error(info, widget.value)
                self._error_label(info.name).update(error or "")
                if error:
                    valid = False
                    continue
                value = parse_value(info, widget.value)
            if value != info.default:
                result[info.name] = value
        return result if valid else None

    def show_error(self, message: str) -> bool:
        """Put a config-level error beside the field it names; False if it names none."""
        named = [n for n in self.infos if message.startswith(f"{n}=")]
        named += [n for n in self.infos if f" {n}=" in message]
        if named:
            self._error_label(named[0]).update(message)
        return bool(named)
