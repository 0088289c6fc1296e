"""Search spaces built from an agent's Config fields: ``--param name=low:high[:log]``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from envs.config import Config, ConfigError, fields, suggest

DEFAULT_PARAM = "discount=0.9:0.999"
"""The question studies answer: which discount factor."""


@dataclass(frozen=True)
class Param:
    """One searched field: its range and scale."""

    name: str
    low: float
    high: float
    log: bool
    integer: bool

    def distribution(self) -> BaseDistribution:
        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(self.low, self.high, log=self.log)

    def grid(self, points: int) -> list[float | int]:
        """``points`` evenly spaced values from low to high (geometrically on a log scale)."""
        spaced = (np.geomspace if self.log else np.linspace)(self.low, self.high, points)
        if self.integer:
            return sorted({int(round(v)) for v in spaced})
        return [float(v) for v in spaced]

    def spec(self) -> str:
        text = f"{self.name}={self.low:g}:{self.high:g}"
        return text + ":log" if self.log else text


def parse_param(text: str, config_cls: type[Config], agent: str) -> Param:
    """``name=low:high`` or ``name=low:high:log`` for a numeric field of the agent's config."""
    name, sep, bounds = text.partition("=")
    name = name.strip()
    if not sep:
        raise ConfigError(
            f"--param {text!r} is not name=low:high (e.g. --param discount=0.9:0.999)"
        )
    known = {info.name: info for info in fields(config_cls)}
    if name not in known:
        raise ConfigError(
            f"--param {name!r} is not a config field of {agent}{suggest(name, known)}; "
            f"`workbench agents` lists the fields"
        )
    info = known[name]
    if info.type not in (int, float):
        raise ConfigError(
            f"--param {name}: only numeric fields can be searched ({name} is {info.type_name})"
        )
    parts = bounds.split(":")
    log = len(parts) == 3 and parts[2].strip() == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise ConfigError(f"--param {text!r}: expected {name}=low:high or {name}=low:high:log")
    try:
        low, high = (float(part) for part in parts[:2])
    except ValueError:
        raise ConfigError(f"--param {text!r}: low and high must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ConfigError(
            f"--param {text!r}: the range is empty or inverted; give low < high, "
            f"e.g. {name}={min(low, high):g}:{max(low, high):g}"
        )
    if log and low <= 0:
        raise ConfigError(f"--param {text!r}: a log scale needs low > 0")
    if info.range is not None and not (info.range.contains(low) and info.range.contains(high)):
        raise ConfigError(f"--param {text!r}: {name} must lie in {info.range}")
    integer = info.type is int
    if integer and (low != int(low) or high != int(high)):
        raise ConfigError(f"--param {text!r}: {name} is an integer field; give integer bounds")
    return Param(name, low, high, log, integer)


def parse_space(texts: list[str], config_cls: type[Config], agent: str) -> list[Param]:
    params = [parse_param(text, config_cls, agent) for text in texts]
    names = [p.name for p in params]
    for name in set(names):
        if names.count(name) > 1:
            raise ConfigError(f"--param {name} is given twice; give each field once")
    return params


def grid_points(params: list[Param], trials: int) -> list[dict[str, float | int]]:
    """The grid of ``trials`` points: each of the d fields gets trials ** (1/d) values."""
    per_axis = round(trials ** (1.0 / len(params)))
    if per_axis ** len(params) != trials or per_axis < 2:
        raise ConfigError(
            f"a grid over {len(params)} field(s) needs k**{len(params)} trials with k >= 2 "
            f"(e.g. --trials {max(2, per_axis) ** len(params)}), not {trials}"
        )
    axes = [p.grid(per_axis) for p in params]
    if any(len(axis) < per_axis for axis in axes):
        raise ConfigError(
            f"an integer range is too narrow for {per_axis} distinct grid values; "
            "widen it or lower --trials"
        )
    mesh = np.meshgrid(*axes, indexing="ij")
    return [
        {p.name: axis.flat[i].item() for p, axis in zip(params, mesh, strict=True)}
        for i in range(trials)
    ]
