"""A form generated from a Config class: one row per field, typed input, help as tooltip
(and in the dialog's help line while the field has focus), switches that say on or off,
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


def on_off(value: bool) -> str:
    return "on" if value else "off"


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
    ConfigForm .switch-state { width: 5; padding: 0 1; }
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
                    yield Label(on_off(bool(value)), classes="switch-state", name=name)
                else:
                    yield Input(str(value), name=name).with_tooltip(tooltip(info))
                yield Static("", classes="field-error", name=name)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        """The state in words beside the switch: colour alone does not say it."""
        for label in self.query(".switch-state"):
            if label.name == event.switch.name:
                label.update(on_off(event.value))

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

    def show_error(self, error: ConfigError) -> bool:
        """Put a config-level error beside the field it belongs to (``error.field``);
        False if it belongs to none of this form's fields."""
        name = error.field or first_named_field(str(error), self.infos)
        if name not in self.infos:
            return False
        self._error_label(name).update(str(error))
        return True


def first_named_field(message: str, names) -> str | None:
    """For a cross-field rule raised without ``field`` (an agent's ``check``): the first
    field its message names as ``name=``."""
    named = [n for n in names if message.startswith(f"{n}=")]
    named += [n for n in names if f" {n}=" in message]
    return named[0] if named else None
