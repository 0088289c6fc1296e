"""``workbench agents check SPEC``: does an agent follow the protocol, shown by using it.

It reads the class (``agents.plugin.protocol_problems``), then builds the agent on a task
it supports, trains it a few hundred steps, checkpoints it halfway through
(``torch.save`` and ``torch.load(weights_only=True)``, as the runner does), resumes a
fresh agent from that checkpoint to the end, and copies its ``weights()`` into another.
Each way it falls short is one line; none means the workbench can train, stop and resume
it like a built-in agent.
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from envs.config import ConfigError
from envs.errors import UserError

DEFAULT_STEPS = 300
STANDARD_GYM_TASKS = {"discrete": "gym:CartPole-v1", "box": "gym:Pendulum-v1"}
"""The task a check uses for an agent that lists no family, only action kinds."""


class Endless(Exception):
    """``learn`` does not stop: past ten times its budget, or reports without end."""


@dataclass
class CheckResult:
    """What the check found: its problems (one line each) and, when none, what it did."""

    spec: str
    task: str | None = None
    problems: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


def check_agent(spec_text: str, task: str | None = None, steps: int = DEFAULT_STEPS) -> CheckResult:
    """Check the agent ``spec_text`` names (a plug-in spec, an entry point or a built-in)."""
    from agents.plugin import plugin_spec, protocol_problems
    from agents.registry import AGENTS
    from workbench.plugins import load_agent

    result = CheckResult(spec_text)
    if spec_text in AGENTS:
        spec = AGENTS[spec_text]
    else:
        try:
            loaded = load_agent(spec_text)
        except ConfigError as err:
            result.problems.append(str(err))
            return result
        if loaded is None:
            result.problems.append(
                f"no agent {spec_text!r}: give path/file.py:Class, package.module:Class or "
                "an entry point of workbench.agents"
            )
            return result
        result.problems = protocol_problems(loaded.obj)
        if result.problems:
            return result
        spec = plugin_spec(loaded)
    try:
        result.task = task or first_task(spec)
        exercise(spec, result.task, steps, result)
    except UserError as err:
        result.problems.append(str(err))
    return result


def first_task(spec: Any) -> str:
    if spec.tasks:
        return spec.tasks[0]
    return STANDARD_GYM_TASKS[spec.actions[0]]


def exercise(spec: Any, task: str, steps: int, result: CheckResult) -> None:
    """Build, train to the halfway step, checkpoint, resume a fresh agent, finish, copy
    weights; each failure appended to ``result.problems`` as one line."""
    from envs.registry import get_task

    spec.check_task(task)
    family = get_task(task)
    config, params = spec.config(), family.Params()

    def build() -> Any:
        return spec.make(config, family, params, 0)

    problems = result.problems
    agent = attempt(problems, f"building it on {task}", build)
    if agent is None:
        return
    halfway = max(1, steps // 2)
    reports = attempt(
        problems, "learn()", lambda: take(agent.learn(steps, tick_seconds=None), steps, halfway)
    )
    if reports is None:
        return
    problems += report_problems(reports)
    state = attempt(problems, "state_dict()", lambda: roundtrip(agent.state_dict()))
    if state is None:
        return
    stopped_at = int(getattr(agent, "steps_done", -1))
    result.done.append(f"built on {task}, trained to step {stopped_at}, checkpointed")
    resumed = attempt(problems, "building a second agent", build)
    if (
        resumed is None
        or attempt(problems, "load_state_dict()", lambda: resumed.load_state_dict(state)) is None
    ):
        return
    if getattr(resumed, "steps_done", None) != stopped_at:
        problems.append(
            f"steps_done is {getattr(resumed, 'steps_done', None)!r} after load_state_dict, "
            f"the checkpoint's agent was at {stopped_at}: keep steps_done in state_dict()"
        )
        return
    budget = stopped_at + halfway  # past the checkpoint, whatever step it was taken at
    rest = attempt(
        problems,
        "learn() after a resume",
        lambda: take(resumed.learn(budget, tick_seconds=None), budget),
    )
    problems += report_problems(rest, after=stopped_at)
    if not rest or rest[-1].step < budget:
        problems.append(f"learn({budget}) ended before step {budget} after a resume")
    metric_seen = any(spec.main_metric in r.scalars for r in reports + rest)
    if not metric_seen:
        problems.append(
            f"no report carried {spec.main_metric!r} (main_metric): evaluate at least at the "
            "end of learn()"
        )
    result.done.append(f"resumed and finished at step {rest[-1].step if rest else '?'}")
    weights = attempt(problems, "weights()", lambda: roundtrip(resumed.weights()))
    other = attempt(problems, "building a third agent", build) if weights is not None else None
    if (
        other is not None
        and attempt(problems, "load_weights()", lambda: other.load_weights(weights)) is not None
    ):
        result.done.append("weights() copied into a fresh agent")


def attempt(problems: list[str], what: str, action: Any) -> Any:
    """``action()``, or None with one line in ``problems`` when it raises (a None result
    counts as done: ``True`` is returned instead)."""
    try:
        value = action()
    except Endless as err:
        problems.append(str(err))
        return None
    except Exception as err:
        text = str(err).strip().splitlines()
        problems.append(
            f"{what} raised {type(err).__name__}: {text[0] if text else ''}".rstrip(": ")
        )
        return None
    return True if value is None else value


def take(reports: Iterator[Any], steps: int, until: int | None = None) -> list[Any]:
    """The reports of ``learn``, up to the first at or past ``until`` (else all), refusing a
    generator that runs far past its budget or yields without end at the same steps."""
    if not hasattr(reports, "__next__"):
        raise TypeError("learn() returned no generator")
    taken = []
    for report in reports:
        taken.append(report)
        step = getattr(report, "step", None)
        if until is not None and isinstance(step, int) and step >= until:
            break
        if isinstance(step, int) and step > 10 * steps + 1000:
            raise Endless(f"learn({steps}) went on past step {step}")
        if len(taken) > 10 * steps + 1000:  # more reports than env steps: they do not advance
            raise Endless(
                f"learn({steps}) yielded {len(taken):,} reports and is at step {step!r}: "
                "count env steps in Report.step"
            )
    return taken


def report_problems(reports: list[Any], after: int = 0) -> list[str]:
    """What is wrong with the reports: not Report(step, scalars), steps going back, scalars
    that are not numbers or keys without a slash. At most one line per kind."""
    found: dict[str, str] = {}
    last = after
    for report in reports:
        step, scalars = getattr(report, "step", None), getattr(report, "scalars", None)
        if not isinstance(step, int) or not isinstance(scalars, dict):
            found.setdefault("shape", f"learn() yielded {report!r}: yield Report(step, scalars)")
            continue
        if step < last:
            found.setdefault("order", f"report steps go back ({last} then {step})")
        last = step
        for key, value in scalars.items():
            if not isinstance(key, str) or "/" not in key:
                found.setdefault(
                    "key", f"metric key {key!r}: use slash keys like eval/episode_return"
                )
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                found.setdefault(
                    "value", f"metric {key!r} is {type(value).__name__}: yield float(...)"
                )
            elif not math.isfinite(value):
                found.setdefault("finite", f"metric {key!r} is {value} at step {step}")
    return list(found.values())


def roundtrip(state: Any) -> Any:
    """``state`` through ``torch.save`` and ``torch.load(weights_only=True)``, as the
    runner's checkpoints go; a state of other objects fails here as it would there."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    try:
        return torch.load(buffer, weights_only=True)
    except Exception as err:
        raise TypeError(
            "not readable by torch.load(weights_only=True): keep tensors and plain values "
            f"({str(err).strip().splitlines()[0] if str(err).strip() else err!r})"
        ) from None
