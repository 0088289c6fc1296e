"""Readers of studies: the list with one-line summaries, one study's trials and the live
curves of its running trials, and a comparison group's table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.registry import AGENTS
from studies.catalog import known_studies, list_cells, study_summary
from studies.storage import forget_storage, shared_storage
from studies.study import StudySpec, load
from workbench.store import Store

NOT_STARTED = "not started"


@dataclass(frozen=True)
class StudyRow:
    """One line of the studies list: its cells, and what the screen acts on."""

    name: str
    url: str
    group: str | None
    state: str
    cells: tuple[str, ...]


def summary_row(summary: dict[str, Any], url: str) -> StudyRow:
    """A summary as the list shows it: a study no trial of which ever ran is "not started"
    (not "paused"), and done never reads more than the study's N."""
    state = summary["state"]
    cells = list(list_cells(summary))
    if state != "unreachable":
        started = sum(summary[k] for k in ("n_complete", "n_pruned", "n_failed", "n_running"))
        if state == "paused" and not started:
            state = NOT_STARTED
        done = summary["n_complete"] + summary["n_pruned"]
        cells[5] = f"{min(done, summary['trials'])}/{summary['trials']}"
        cells[-1] = state
    return StudyRow(summary["name"], url, summary.get("group"), state, tuple(cells))


def read_studies(home: Path) -> list[StudyRow]:
    store = Store(home)
    try:
        found = known_studies(store)
    finally:
        store.close()
    return [summary_row(study_summary(name, url), url) for name, url in found]


def main_metric(agent: str) -> str:
    """The agent's main return metric (what a study's live curves plot)."""
    spec = AGENTS.get(agent)
    return spec.main_metric if spec is not None else "eval/episode_return"


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str
    value: float | None
    discount: float | None
    params: dict[str, float]
    run_id: int | None


@dataclass
class StudyData:
    """One study: its spec, its trials, and the main metric's curve of each running trial."""

    name: str
    spec: StudySpec
    trials: list[TrialRow]
    metric: str
    live: dict[int, tuple[list[int], list[float]]]

    @property
    def done(self) -> int:
        """Lifetimes done, never more than the study's N (a retried trial counts once)."""
        finished = sum(t.state in ("complete", "pruned") for t in self.trials)
        return min(finished, self.spec.trials)


def read_study(home: Path, name: str, url: str) -> StudyData:
    """Raises when the storage cannot be read (it is opened afresh on the next call)."""
    try:
        study, spec = load(shared_storage(url), name)
        trials = study.get_trials(deepcopy=False)
    except Exception:
        forget_storage(url)  # opened afresh on the next read
        raise
    rows = [
        TrialRow(
            number=t.number,
            state=t.state.name.lower(),
            value=t.value,
            discount=t.user_attrs.get("discount"),
            params=dict(t.params),
            run_id=t.user_attrs.get("run_id"),
        )
        for t in trials
    ]
    metric = main_metric(spec.agent)
    store = Store(home)
    try:
        live = {}
        for row in rows:
            if row.state == "running" and row.run_id is not None:
                points = store.metrics(row.run_id, metric)
                live[row.number] = ([s for _, s, _ in points], [v for _, _, v in points])
    finally:
        store.close()
    return StudyData(name, spec, rows, metric, live)


def read_group(home: Path, group: str, lifetimes: int) -> list:
    """The group's comparison rows (``studies.compare.Row``) from the fresh lifetimes
    already trained; none is trained here."""
    from studies.compare import compare_row

    store = Store(home)
    try:
        rows = []
        for name, url in known_studies(store):
            try:
                study, spec = load(shared_storage(url), name)
                if spec.group == group:
                    rows.append(compare_row(study, spec, store, lifetimes, train=False))
            except Exception:
                forget_storage(url)  # opened afresh on the next read
                raise
    finally:
        store.close()
    return rows
