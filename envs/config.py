"""Typed, validated hyperparameter dataclasses that the CLI, TUI and studies are built from.

A config is a ``@dataclass`` subclass of :class:`Config`. Each field has a default and a
one-line docstring under it (CleanRL's ``Args``); a numeric field may carry an allowed range
through :func:`bounded`. ``__post_init__`` checks types and ranges, so a bad value is
refused with a message naming the field, the value and the allowed range.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import math
import textwrap
import typing
from dataclasses import dataclass
from typing import Any

from envs.errors import UserError


class ConfigError(UserError, ValueError):
    """A configuration value or key that the user must fix; the message says how."""


MAX_STEPS = 1_000_000_000
"""Most env steps a run or a lifetime may be given (and the bound of every field counted
in env steps): about a day at 10,000 steps/s. Beyond 64 bits SQLite refuses the number."""
MAX_SEED = 2**32 - 1
"""Largest seed: NumPy's legacy generators and Optuna's samplers take 32-bit seeds."""
MAX_INT = 2**63 - 1
"""An int field with no upper bound of its own still fits a signed 64-bit integer (SQLite,
torch); larger values are refused rather than overflowing later."""


@dataclass(frozen=True)
class Range:
    """Allowed interval of a numeric field; ``log`` marks a scale searched logarithmically."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    log: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        )

    def __str__(self) -> str:
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{left}{low}, {high}{right}"


def bounded(
    default: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    log: bool = False,
    per_member: bool = False,
) -> Any:
    """A dataclass field with a default and an allowed range checked by ``Config``.

    ``per_member``: the members of a population (many lifetimes trained as one batched
    computation) may each have their own value (a discount, a learning rate, an
    exploration rate); fields without it set shapes or the loop's structure and are
    shared by every member."""
    rng = Range(low, high, low_open, high_open, log)
    return dataclasses.field(default=default, metadata={"range": rng, "per_member": per_member})


@dataclass(frozen=True)
class FieldInfo:
    """What the CLI, the TUI form and study search spaces need to know about one field."""

    name: str
    type: type
    default: Any
    help: str
    range: Range | None
    per_member: bool = False
    """May differ across the members of a population (see ``bounded``)."""

    @property
    def type_name(self) -> str:
        return self.type.__name__


_SCALARS = (bool, int, float, str)


@dataclass
class Config:
    """Base of every agent and task config: type and range checks after construction."""

    def __post_init__(self) -> None:
        for info in fields(type(self)):
            value = getattr(self, info.name)
            value = _coerce_type(info, value)
            object.__setattr__(self, info.name, value)
            if info.type is int and not -MAX_INT <= value <= MAX_INT:
                raise ConfigError(
                    f"{info.name}={value} is too large: give at most {MAX_INT:,}",
                    field=info.name,
                )
            if info.range is not None and not info.range.contains(value):
                raise ConfigError(
                    f"{info.name}={value!r} is out of range: allowed {info.range}",
                    field=info.name,
                )
        self.check()

    def check(self) -> None:
        """Cross-field rules; raise ConfigError naming the fields involved."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


@dataclass
class NoConfig(Config):
    """A config without fields: for policies and tasks with nothing to set."""


def _coerce_type(info: FieldInfo, value: Any) -> Any:
    expected = info.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{info.name}={value!r} is not a finite number", field=info.name)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(
            f"{info.name}={value!r} has type {type(value).__name__}, expected {info.type_name}",
            field=info.name,
        )
    return value


@functools.cache
def fields(config_cls: type[Config]) -> tuple[FieldInfo, ...]:
    """The fields of a config class with their types, defaults, help text and ranges."""
    hints = typing.get_type_hints(config_cls)
    docs = _attribute_docstrings(config_cls)
    infos = []
    for f in dataclasses.fields(config_cls):
        kind = hints[f.name]
        if kind not in _SCALARS:
            raise TypeError(f"{config_cls.__name__}.{f.name}: only bool/int/float/str fields")
        infos.append(
            FieldInfo(
                f.name,
                kind,
                f.default,
                docs.get(f.name, ""),
                f.metadata.get("range"),
                bool(f.metadata.get("per_member", False)),
            )
        )
    return tuple(infos)


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """Docstrings written under dataclass fields, read from the source of cls and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, following in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def parse_value(info: FieldInfo, text: str) -> Any:
    """Turn the text of a ``--set key=value`` into the field's type, or explain why not."""
    text = text.strip()
    try:
        if info.type is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if info.type is int:
            try:
                return int(text)  # exactly, however many digits
            except ValueError:
                number = float(text)  # 1e6 and 1000.0 are whole numbers too
            if not number.is_integer():
                raise ValueError
            return int(number)
        if info.type is float:
            return float(text)
    except ValueError:
        raise ConfigError(
            f"{info.name}={text!r} is not a valid {info.type_name}"
            + (" (use true or false)" if info.type is bool else ""),
            field=info.name,
        ) from None
    return text


def parse_numbers(text: str, count: int, field: str, each: str) -> list[float] | None:
    """A fixed list like "0.2,0.7" with one number per ``each``; None for an empty string."""
    if not text.strip():
        return None
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"{field}={text!r} is not a comma-separated list of numbers", field=field
        ) from None
    if len(numbers) != count:
        raise ConfigError(
            f"{field}={text!r} has {len(numbers)} values, expected one per {each} ({count})",
            field=field,
        )
    return numbers


def suggest(name: str, choices: typing.Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choices, or '' when none is close.

    Close means a likely typo (difflib) or an abbreviation: the initials (``lr`` for
    ``learning_rate``), a prefix of at least three letters (``eps`` for ``epsilon_start``),
    or a prefix of each word (``grad_clip`` for ``gradient_clip_norm``)."""
    choices = list(choices)
    abbreviated = [choice for choice in choices if _abbreviates(name, choice)]
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    found = [choice for choice in dict.fromkeys(abbreviated + close) if choice != name][:3]
    return f" (did you mean {' or '.join(found)}?)" if found else ""


def _abbreviates(short: str, name: str) -> bool:
    """Whether ``short`` abbreviates ``name`` (initials, a prefix, or word prefixes)."""
    short, name = short.lower().replace("-", "_"), name.lower().replace("-", "_")
    if short == name:
        return False
    words = [word for word in name.split("_") if word]
    if len(words) > 1 and short == "".join(word[0] for word in words):
        return True
    if len(short) >= 3 and name.startswith(short):
        return True
    parts = short.split("_")
    return (
        len(parts) > 1
        and len(parts) <= len(words)
        and all(part and word.startswith(part) for part, word in zip(parts, words, strict=False))
    )


def build(config_cls: type[Config], values: dict[str, Any], *, owner: str) -> Config:
    """A config from defaults overridden by ``values`` (typed or text); unknown keys refused."""
    known = {info.name: info for info in fields(config_cls)}
    typed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"unknown config key {key!r} for {owner}{suggest(key, known)}; "
                f"see `workbench agents` or `workbench tasks` for the keys"
            )
        typed[key] = parse_value(known[key], value) if isinstance(value, str) else value
    try:
        return config_cls(**typed)
    except TypeError as err:  # a value of the wrong type from a TOML file
        raise ConfigError(str(err)) from None


def restore(config_cls: type[Config], stored: dict[str, Any], *, owner: str) -> Config:
    """The config of a stored run. A run records every field at creation, so a field
    missing from ``stored`` was added later: it takes the value the run trained with, the
    class's ``FORMER`` entry (a dict of field -> old behaviour), else its default."""
    former = getattr(config_cls, "FORMER", {})
    return build(config_cls, {**former, **stored}, owner=owner)


def describe(config_cls: type[Config]) -> list[dict[str, Any]]:
    """Plain description of each field, for listings and ``--json``."""
    return [
        {
            "name": info.name,
            "type": info.type_name,
            "default": info.default,
            "range": str(info.range) if info.range else None,
            "help": info.help,
        }
        for info in fields(config_cls)
    ]
