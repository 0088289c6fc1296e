"""What a study holds, read without Optuna's types: the studies a home knows, a one-line
summary of each, and a study's trials, as plain dataclasses for the workbench's listings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
import sqlalchemy

from envs.errors import UserError
from studies.bulk import Counts, counts
from studies.storage import forget_storage, reason, shared_storage
from studies.study import StudySpec, load
from studies.urls import masked


def known_studies(default_url: str, remembered: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, url) of every study a home knows: those in its own storage (``default_url``),
    then the remembered ones kept elsewhere."""
    storage = shared_storage(default_url)
    found = [(s.study_name, default_url) for s in optuna.get_all_study_summaries(storage)]
    return found + sorted(remembered.items())


@dataclass(frozen=True)
class StudySummary:
    """One study in a listing. ``state``: done, running, paused, or unreachable (then only
    ``name``, ``url``, ``storage`` and ``error`` mean anything)."""

    name: str
    url: str
    storage: str
    """The URL with its password masked, for showing."""
    state: str
    spec: StudySpec | None = None
    counts: Counts = field(default_factory=Counts)
    best_value: float | None = None
    best_params: dict[str, Any] | None = None
    best_discount: float | None = None
    best_number: int | None = None
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.state != "unreachable"

    @property
    def group(self) -> str | None:
        return self.spec.group if self.spec else None

    @property
    def started(self) -> bool:
        """Whether any trial of it ever ran (a study never run is paused, not started)."""
        now = self.counts
        return bool(now.complete + now.pruned + now.failed + now.running)

    def to_json(self) -> dict[str, Any]:
        """As `study ls --json` prints it."""
        if not self.reachable or self.spec is None:
            return {
                "name": self.name,
                "storage": self.storage,
                "state": self.state,
                "error": self.error,
            }
        spec, now = self.spec, self.counts
        return {
            "name": self.name,
            "storage": self.storage,
            "agent": spec.agent,
            "task": spec.task,
            "method": spec.method,
            "group": spec.group,
            "trials": spec.trials,
            "steps": spec.steps,
            "params": list(spec.params),
            "fixed": spec.fixed,
            "task_params": spec.task_params,
            "pruner": spec.pruner,
            "population": spec.population,
            "state": self.state,
            "n_complete": now.complete,
            "n_pruned": now.pruned,
            "n_failed": now.failed,
            "n_running": now.running,
            "n_waiting": now.waiting,
            "best_value": self.best_value,
            "best_params": self.best_params,
            "best_discount": self.best_discount,
        }


def summarize(name: str, url: str, study: optuna.Study, spec: StudySpec) -> StudySummary:
    now = counts(study)
    best_value = best_params = best_discount = best_number = None
    if now.complete:
        best = study.best_trial
        best_value, best_params, best_number = best.value, best.params, best.number
        best_discount = best.user_attrs.get("discount")
    state = "done" if now.done >= spec.trials else "running" if now.running else "paused"
    return StudySummary(
        name=name,
        url=url,
        storage=masked(url),
        state=state,
        spec=spec,
        counts=now,
        best_value=best_value,
        best_params=best_params,
        best_discount=best_discount,
        best_number=best_number,
    )


def study_summary(name: str, url: str) -> StudySummary:
    """The study's summary, or an ``unreachable`` one when its storage is down or gone
    (when opened, or since: it is opened afresh next time)."""
    try:
        study, spec = load(shared_storage(url), name)
        return summarize(name, url, study, spec)
    except (UserError, sqlalchemy.exc.SQLAlchemyError) as err:
        forget_storage(url)
        error = str(err) if isinstance(err, UserError) else reason(err, url)
        return StudySummary(
            name=name, url=url, storage=masked(url), state="unreachable", error=error
        )


@dataclass(frozen=True)
class TrialRow:
    """One trial as listings show it."""

    number: int
    state: str
    """complete, pruned, fail, running or waiting."""
    value: float | None
    params: dict[str, Any]
    discount: float | None
    seed: int | None
    run_id: int | None
    """The id its trainer gave its lifetime (a run id in the workbench that trained it)."""
    host: str | None
    env_steps: int | None
    retry_of: int | None
    """The trial this one retries (after its worker died or was interrupted)."""

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_json(self) -> dict[str, Any]:
        """As `study show --json` prints it (``trials_detail``)."""
        return {
            "number": self.number,
            "state": self.state,
            "value": self.value,
            "params": self.params,
            "discount": self.discount,
            "seed": self.seed,
            "run_id": self.run_id,
            "env_steps": self.env_steps,
            "retry_of": self.retry_of,
        }


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    return [
        TrialRow(
            number=t.number,
            state=t.state.name.lower(),
            value=t.value,
            params=dict(t.params),
            discount=t.user_attrs.get("discount"),
            seed=t.user_attrs.get("seed"),
            run_id=t.user_attrs.get("run_id"),
            host=t.user_attrs.get("host"),
            env_steps=t.user_attrs.get("env_steps"),
            retry_of=t.system_attrs.get("failed_trial"),
        )
        for t in study.get_trials(deepcopy=False)
    ]
