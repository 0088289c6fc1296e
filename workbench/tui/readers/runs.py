"""Readers of runs: the runs table (only changed rows parsed again), one run's new metric
rows and log lines, and several runs' curves for the compare view."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.common.base import EVAL_KEYS, RETURN_KEYS
from agents.registry import AGENTS
from envs.config import fields
from workbench.store import RunRecord, Store

LOG_TAIL_BYTES = 64_000

RowCache = dict[int, tuple[tuple, RunRecord, list[float]]]
"""run id -> (row stamp, parsed row, recent training returns)."""


def recent_returns(store: Store, run_id: int, count: int = 16) -> list[float]:
    """The last training returns of a run, per episode or per meta-episode."""
    for key in RETURN_KEYS:
        values = store.recent_values(run_id, key, count)
        if values:
            return values
    return []


def read_runs(home: Path, cache: RowCache) -> RowCache:
    """Every run with its recent returns, parsing rows and reading returns only for the
    runs whose row changed (status, steps, summary, name) since ``cache`` was made."""
    store = Store(home)  # this thread's own connection
    try:
        return read_rows(store, cache)
    finally:
        store.close()


def read_rows(store: Store, cache: RowCache) -> RowCache:
    """``read_runs`` on an open store."""
    stamps = store.run_stamps()
    changed = [i for i, stamp in stamps.items() if cache.get(i, (None,))[0] != stamp]
    fresh: RowCache = {i: cache[i] for i in stamps if i not in changed}
    for run in store.get_runs(changed):
        fresh[run.id] = (stamps[run.id], run, recent_returns(store, run.id))
    return dict(sorted(fresh.items()))


def default_metric(keys: list[str]) -> str | None:
    """The training return if the run logs one, else its evaluation (a continual
    learner's retained accuracy), else its first metric."""
    preferred = (*RETURN_KEYS, *EVAL_KEYS)
    return next((key for key in preferred if key in keys), keys[0] if keys else None)


def shown_keys(metric: str | None) -> list[str]:
    """The metric, and beside a training return its evaluation counterpart."""
    if metric is None:
        return []
    if metric in RETURN_KEYS:
        return [metric, EVAL_KEYS[RETURN_KEYS.index(metric)]]
    return [metric]


def effective_config(run: RunRecord) -> list[tuple[str, Any, bool]]:
    """(field, value, changed) for every field of the run's agent config: its defaults with
    the run's values on top (older rows store only the overrides)."""
    spec = AGENTS.get(run.agent)
    if spec is None:  # an agent no longer registered: the stored values are all we know
        return [(name, value, True) for name, value in run.config.items()]
    result = []
    for info in fields(spec.config):
        value = run.config.get(info.name, info.default)
        result.append((info.name, value, value != info.default))
    return result


@dataclass
class RunUpdate:
    """What changed in one run since the last read."""

    run: RunRecord
    keys: list[str]
    metric: str | None
    new_points: dict[str, list[tuple[int, float | None, float]]]
    """key -> (step, seconds since the run started or None, value)."""
    new_log: list[str]
    config: list[tuple[str, Any, bool]] = field(default_factory=list)


class RunReader:
    """Reads one run incrementally: the metric rows after the last step shown, and only the
    bytes appended to its log since the last read (its last LOG_TAIL_BYTES the first
    time). One reader per run view; its state is the log offset."""

    def __init__(self, home: Path, run_id: int) -> None:
        self.home, self.run_id = home, run_id
        self.log_size = 0

    def read(self, metric: str | None, last_steps: dict[str, int]) -> RunUpdate:
        store = Store(self.home)
        try:
            run = store.get_run(self.run_id)
            keys = store.metric_keys(self.run_id)
            metric = metric or default_metric(keys)
            origin = store.wall_origin(run)
            new_points = {
                key: [
                    (step, None if wall is None else wall - origin, value)
                    for _, step, wall, value in store.timed_metrics(
                        self.run_id, key, last_steps.get(key, -1)
                    )
                ]
                for key in shown_keys(metric)
            }
            log = self.read_log(store.log_path(self.run_id))
        finally:
            store.close()
        return RunUpdate(run, keys, metric, new_points, log, effective_config(run))

    def read_log(self, path: Path) -> list[str]:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.log_size:  # replaced: start over
            self.log_size = 0
        start, skip_first = self.log_size, False
        if start == 0 and size > LOG_TAIL_BYTES:
            start, skip_first = size - LOG_TAIL_BYTES, True  # it begins mid-line
        with path.open("rb") as handle:
            handle.seek(start)
            data = handle.read(size - start)
        complete = data[: data.rfind(b"\n") + 1]  # a line being written waits for the next read
        self.log_size = start + len(complete)
        lines = complete.decode(errors="replace").splitlines()
        return lines[1:] if skip_first else lines


@dataclass
class CompareData:
    """Several runs' rows, the metrics they all log, and each run's curve of one."""

    runs: dict[int, RunRecord]
    keys: list[str]
    metric: str | None
    series: dict[int, tuple[list[int], list[float]]]
    elapsed: dict[int, list[float | None]] = field(default_factory=dict)
    """Per run, each point's seconds since the run started (None: not recorded)."""


def read_compare(home: Path, run_ids: list[int], metric: str | None) -> CompareData:
    store = Store(home)
    try:
        runs = {run_id: store.get_run(run_id) for run_id in run_ids}
        keys = sorted(set.intersection(*(set(store.metric_keys(i)) for i in run_ids)))
        metric = metric or default_metric(keys)
        series, elapsed = {}, {}
        for run_id in run_ids:
            rows = store.timed_metrics(run_id, metric) if metric else []
            origin = store.wall_origin(runs[run_id])
            series[run_id] = ([step for _, step, _, _ in rows], [v for *_, v in rows])
            elapsed[run_id] = [None if w is None else w - origin for _, _, w, _ in rows]
    finally:
        store.close()
    return CompareData(runs, keys, metric, series, elapsed)
