"""Groups of runs for the runs table: a population's members (runs sharing ``population``)
and a study's lifetimes (runs sharing ``study``), each summarised as one row.

With a hundred lifetimes a flat table stops being readable, so a group shows as one row
(members done of all, the median and best evaluation, the running members' summed speed,
a sparkline of the median main-metric curve) that expands to its members. A run of a
study trained in a population belongs to the study's group: the study is what its user
asked for, a population only how its lifetimes were batched. A population of one member
is a lone run and stays a plain row.

Each member's main-metric curve is kept between reads and only the rows after its last
step are read when its row changed, as ``read_runs`` does for the rows themselves.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from agents.registry import AGENTS
from workbench.bands import median_band
from workbench.store import RunRecord, Store
from workbench.tui.readers.runs import RowCache, read_rows

SPARK_POINTS = 16
"""Grid steps of a group's sparkline: the width of a run's sparkline of recent returns."""
DEFAULT_METRIC = "eval/episode_return"

CurveCache = dict[int, tuple[tuple, list[int], list[float]]]
"""run id -> (row stamp, steps, values) of the run's main metric."""


def group_key(run: RunRecord) -> str | None:
    """The group a run belongs to: its study's, else its population's, else none."""
    if run.study:
        return f"study:{run.study}"
    if run.population is not None:
        return f"population:{run.population}"
    return None


def group_name(key: str) -> str:
    """`study NAME` or `population ID` (the first member's run id)."""
    kind, _, label = key.partition(":")
    return f"{kind} {label}"


def main_metric(run: RunRecord) -> str:
    spec = AGENTS.get(run.agent)
    return spec.main_metric if spec is not None else DEFAULT_METRIC


def memberships(runs: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Group key -> its members in id order; a population of one is left out (a lone
    run), a study of one lifetime is not (its next lifetimes join the same row)."""
    groups: dict[str, list[RunRecord]] = {}
    for run in sorted(runs, key=lambda r: r.id):
        key = group_key(run)
        if key is not None:
            groups.setdefault(key, []).append(run)
    return {
        key: members
        for key, members in groups.items()
        if key.startswith("study:") or len(members) > 1
    }


@dataclass(frozen=True)
class Group:
    """One group row's numbers; equal groups draw the same row (the screen redraws a
    group's row only when this changes)."""

    key: str
    name: str
    members: tuple[int, ...]
    agent: str
    task: str
    done: int
    """Members completed."""
    running: int
    progress: float
    """Mean fraction of the budget trained, 0 to 1."""
    median_eval: float | None
    """Median over members of the summary's ``eval_return_mean`` (members without one
    yet do not count)."""
    best_eval: float | None
    median_return: float | None
    """Median over members of the last training return."""
    steps_per_second: float | None
    """Sum over running members."""
    spark: tuple[float, ...]
    """The median main-metric curve on SPARK_POINTS steps."""
    statuses: tuple[str, ...]
    seeds: str
    """`0–15` for consecutive seeds, the seed when all share one, else how many."""
    metric: str
    """The main metric of the group's (first member's) agent, what its sparkline shows."""

    @property
    def total(self) -> int:
        return len(self.members)

    @property
    def status(self) -> str:
        """Done of all, and how many train now: `3/5 done · 2 running`."""
        text = f"{self.done}/{self.total} done"
        return f"{text} · {self.running} running" if self.running else text


def median_of(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def seed_text(seeds: list[int]) -> str:
    unique = sorted(set(seeds))
    if len(unique) == 1:
        return str(unique[0])
    if unique == list(range(unique[0], unique[-1] + 1)):
        return f"{unique[0]}–{unique[-1]}"
    return f"{len(unique)} seeds"


def summarize(key: str, members: list[RunRecord], curves: CurveCache) -> Group:
    evals = [r.summary["eval_return_mean"] for r in members if "eval_return_mean" in r.summary]
    lasts = [r.summary["last_return"] for r in members if "last_return" in r.summary]
    running = [r for r in members if r.status == "running"]
    speeds = [r.summary["steps_per_second"] for r in running if "steps_per_second" in r.summary]
    band = median_band([curves[r.id][1:] for r in members if r.id in curves], points=SPARK_POINTS)
    name = group_name(key)
    agents = sorted({r.agent for r in members})
    tasks = sorted({r.task for r in members})
    return Group(
        key=key,
        name=name,
        members=tuple(r.id for r in members),
        agent=agents[0] if len(agents) == 1 else "mixed",
        task=tasks[0] if len(tasks) == 1 else "mixed",
        done=sum(r.status == "completed" for r in members),
        running=len(running),
        progress=statistics.fmean(min(1.0, r.steps_done / r.total_steps) for r in members),
        median_eval=median_of(evals),
        best_eval=max(evals) if evals else None,
        median_return=median_of(lasts),
        steps_per_second=sum(speeds) if speeds else None,
        spark=tuple(float(v) for v in band.median) if band is not None else (),
        statuses=tuple(r.status for r in members),
        seeds=seed_text([r.seed for r in members]),
        metric=main_metric(members[0]),
    )


def read_curves(
    store: Store, rows: RowCache, members: list[RunRecord], cache: CurveCache
) -> CurveCache:
    """Each member's main-metric curve: kept while its row is unchanged, else extended by
    the rows after its last step. Read whole again when its status changed or its steps
    went back (a resume deletes the metrics after its checkpoint)."""
    fresh: CurveCache = {}
    for run in members:
        stamp = rows[run.id][0]
        kept = cache.get(run.id)
        if kept is not None and kept[0] == stamp:
            fresh[run.id] = kept
            continue
        metric = main_metric(run)
        since = kept[1][-1] if kept is not None and kept[1] else -1
        if kept is not None and kept[0][0] == stamp[0] and run.steps_done >= since:
            new = store.metrics(run.id, metric, since)
            steps = kept[1] + [step for _, step, _ in new]
            values = kept[2] + [value for _, _, value in new]
        else:
            new = store.metrics(run.id, metric)
            steps, values = [step for _, step, _ in new], [value for _, _, value in new]
        fresh[run.id] = (stamp, steps, values)
    return fresh


@dataclass
class RunsTable:
    """What the runs screen shows: every run's row, the members' curves (kept for the
    next read) and the groups."""

    rows: RowCache
    curves: CurveCache
    groups: dict[str, Group]


def read_table(home: Path, rows: RowCache, curves: CurveCache) -> RunsTable:
    """The runs as ``read_runs`` reads them, and their groups (see the module)."""
    store = Store(home)  # this thread's own connection
    try:
        fresh = read_rows(store, rows)
        groups = memberships([run for _, run, _ in fresh.values()])
        members = [run for group in groups.values() for run in group]
        curves = read_curves(store, fresh, members, curves)
    finally:
        store.close()
    summaries = {key: summarize(key, runs, curves) for key, runs in groups.items()}
    return RunsTable(fresh, curves, summaries)
