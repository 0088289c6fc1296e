"""The studies a workbench home knows, and one-line summaries of them, for `workbench
study ls` and the TUI's studies screen."""

from __future__ import annotations

from typing import Any

import optuna
import sqlalchemy

from envs.config import ConfigError
from studies.storage import default_url, forget_storage, masked, reason, shared_storage
from studies.study import counts, load
from workbench.store import Store


def known_studies(store: Store) -> list[tuple[str, str]]:
    """(name, url) of every study the workbench knows: in its file, and remembered ones."""
    url = default_url(store.home)
    storage = shared_storage(url)
    found = [(s.study_name, url) for s in optuna.get_all_study_summaries(storage)]
    return found + sorted(store.study_storages().items())


def study_summary(name: str, url: str) -> dict[str, Any]:
    try:
        study, spec = load(shared_storage(url), name)
        now = counts(study)
    except (ConfigError, sqlalchemy.exc.SQLAlchemyError) as err:
        # A remembered storage that is down or gone (when opened, or since).
        forget_storage(url)
        error = str(err) if isinstance(err, ConfigError) else reason(err, url)
        return {"name": name, "storage": masked(url), "state": "unreachable", "error": error}
    best_value = best_params = best_discount = None
    if now.complete:
        best = study.best_trial
        best_value, best_params = best.value, best.params
        best_discount = best.user_attrs.get("discount")
    state = "done" if now.done >= spec.trials else "running" if now.running else "paused"
    return {
        "name": name,
        "storage": masked(url),
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
        "state": state,
        "n_complete": now.complete,
        "n_pruned": now.pruned,
        "n_failed": now.failed,
        "n_running": now.running,
        "n_waiting": now.waiting,
        "best_value": best_value,
        "best_params": best_params,
        "best_discount": best_discount,
    }


LIST_COLUMNS = ("name", "method", "agent", "task", "group", "done", "best", "discount", "state")


def list_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """A summary's cells in LIST_COLUMNS order, as `study ls` and the TUI list them."""
    if row["state"] == "unreachable":
        return (row["name"], *["-"] * 7, "unreachable")

    def number(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    return (
        row["name"],
        row["method"],
        row["agent"],
        row["task"],
        row["group"] or "-",
        f"{row['n_complete'] + row['n_pruned']}/{row['trials']}",
        number(row["best_value"], 2),
        number(row["best_discount"], 4),
        row["state"],
    )
