"""Plug-in agents: the protocol a user's agent class follows, checked without running it,
and the ``AgentSpec`` the registry makes of a class that follows it.

The protocol is the built-in agents' (``agents.common.base.Agent``), written on the class:

- ``Config``: a ``@dataclass`` subclass of ``envs.config.Config`` whose every field has a
  default (the CLI, the TUI form and study spaces are built from it);
- ``tasks``: the task family names it trains on, and optionally ``actions``: the action
  spaces (``discrete``, ``box``) with which it takes any gymnasium env as ``gym:ID``;
- ``__init__(config, task_family, task_params, seed)``;
- ``learn(total_steps, *, tick_seconds=None)``, a generator of ``Report(step, scalars)``;
- ``state_dict()`` / ``load_state_dict(state)``: the whole checkpoint, tensors and plain
  values; ``weights()`` / ``load_weights(state)``: the networks alone;
- optionally ``summary`` (else the docstring's first line) and ``main_metric``.

Loading the class (a file, a module, an entry point) is the application's I/O
(``workbench.plugins``); this module only looks at the class it is handed.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from agents.registry import AgentSpec
from envs.config import Config, ConfigError, fields
from envs.plugins import Loaded

METHODS = ("learn", "state_dict", "load_state_dict", "weights", "load_weights")
"""The methods every agent has (``agents.common.base.Agent``)."""
ACTION_KINDS = ("discrete", "box")


def protocol_problems(cls: Any) -> list[str]:
    """Every way ``cls`` departs from the protocol, one line each; [] when it follows it."""
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class: name the agent class itself"]
    problems = config_problems(getattr(cls, "Config", None))
    tasks = getattr(cls, "tasks", None)
    if not isinstance(tasks, tuple | list) or not all(isinstance(t, str) for t in tasks):
        problems.append("tasks: give a tuple of task family names, e.g. tasks = ('chain',)")
        tasks = ()
    actions = getattr(cls, "actions", ())
    if not isinstance(actions, tuple | list) or not set(actions) <= set(ACTION_KINDS):
        problems.append(
            f"actions: give a tuple of {' and/or '.join(ACTION_KINDS)}, or leave it out"
        )
    elif not tasks and not actions:
        problems.append("tasks and actions are both empty: the agent would train on nothing")
    try:
        inspect.signature(cls).bind("config", "task_family", "task_params", "seed")
    except (TypeError, ValueError):
        problems.append(
            "__init__ must take (config, task_family, task_params, seed), "
            f"not {inspect.signature(cls)}"
        )
    for name in METHODS:
        if not callable(getattr(cls, name, None)):
            problems.append(f"missing method {name}() (see docs/plugins.md)")
    learn = getattr(cls, "learn", None)
    if callable(learn):
        if not inspect.isgeneratorfunction(learn):
            problems.append("learn() is not a generator: it must yield Report(step, scalars)")
        parameters = inspect.signature(learn).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        if "tick_seconds" not in parameters and not takes_any:
            problems.append("learn() must take the keyword tick_seconds=None")
    main_metric = getattr(cls, "main_metric", "eval/episode_return")
    if not isinstance(main_metric, str) or "/" not in main_metric:
        problems.append("main_metric: give a slash-namespaced metric key, e.g. eval/episode_return")
    return problems


def config_problems(config: Any) -> list[str]:
    """How a plug-in's ``Config`` falls short: not a Config dataclass, fields without
    defaults or of a type the forms cannot show, defaults its own checks refuse."""
    if not (
        isinstance(config, type) and issubclass(config, Config) and dataclasses.is_dataclass(config)
    ):
        return ["Config: give a @dataclass subclass of envs.config.Config as Config"]
    problems = [
        f"Config field {f.name} has no default: give every field one"
        for f in dataclasses.fields(config)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if problems:
        return problems
    try:
        fields(config)
        config()
    except TypeError as err:
        return [f"Config: {err}"]
    except ConfigError as err:
        return [f"Config's defaults are refused: {err}"]
    return []


def plugin_spec(loaded: Loaded) -> AgentSpec:
    """The AgentSpec of a loaded plug-in class, or a ConfigError of one line naming its
    first problem (``workbench agents check`` lists them all)."""
    cls = loaded.obj
    problems = protocol_problems(cls)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(
            f"agent {loaded.name!r}: {problems[0]}{more}; "
            f"`workbench agents check {loaded.name}` lists every problem"
        )
    doc = inspect.getdoc(cls) or ""
    return AgentSpec(
        name=loaded.name,
        summary=getattr(cls, "summary", None) or (doc.splitlines()[0] if doc else cls.__name__),
        config=cls.Config,
        make=plugin_make(cls),
        tasks=tuple(cls.tasks),
        main_metric=getattr(cls, "main_metric", "eval/episode_return"),
        actions=tuple(getattr(cls, "actions", ())),
        source_file=loaded.source_file,
        source_sha256=loaded.source_sha256,
    )


def plugin_make(cls: type) -> Callable[..., Any]:
    """``make(config, task_family, task_params, seed, device=...)`` of a plug-in class: the
    device goes to the class only when its ``__init__`` takes one (else it runs on cpu)."""
    takes_device = "device" in inspect.signature(cls).parameters

    def make(config: Config, task: Any, task_params: Config, seed: int, device: str = "cpu") -> Any:
        extra = {"device": device} if takes_device else {}
        return cls(config, task, task_params, seed, **extra)

    make.__name__ = cls.__name__
    make.__doc__ = cls.__doc__
    return make
