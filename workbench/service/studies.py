"""Studies as a user acts on them: create, run (here, with worker processes, or detached
in the background), stop, resume, remove, compare a group, and the reads the listings
need. The CLI and the TUI call these; neither reads Optuna's objects, runs SQL or spawns a
process itself.

Every function takes an open :class:`~workbench.store.Store` (the home: its runs, its
own study storage and the storages it remembers) and raises
:class:`~envs.errors.UserError` for anything the user can fix, including a storage that
cannot be reached. Reads return dataclasses (``StudySummary``, ``StudyDetail``,
``CompareRow``). A study is found by name: in ``--storage`` when given, else where it was
created (remembered), else in the home's own database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import fail_stale_trials

from agents.registry import AGENTS, get_agent
from envs.config import ConfigError
from envs.errors import UserError
from studies import remembered
from studies.bulk import counts
from studies.catalog import StudySummary, TrialRow, known_studies, study_summary, summarize
from studies.catalog import trial_rows as read_trial_rows
from studies.compare import Row as CompareRow
from studies.compare import compare_row
from studies.storage import StorageError, forget_storage, reason, shared_storage, sqlite_url
from studies.study import MAX_POPULATION, StudySpec, check_name, create, find, load
from studies.urls import masked, secrets, without_password
from studies.worker import Outcome, work
from workbench.format import fixed
from workbench.service.populations import resolve_device
from workbench.service.study_processes import OnLine, detached, run_workers
from workbench.store import Store
from workbench.trials import Curve, RunTrainer, active_runs, study_runs, trial_curves

MAX_WORKERS = 64
"""Most worker processes `study run --workers` starts on one machine (each trains)."""
MAX_LIFETIMES = 100
"""Most fresh lifetimes `study compare` trains per study."""


# --- where a study is -------------------------------------------------------------------
def home_url(store: Store) -> str:
    """The home's own study storage: Optuna's tables in the workbench's SQLite file."""
    return sqlite_url(store.path)


def study_url(store: Store, name: str | None, storage: str | None = None) -> str:
    """Explicit ``storage``, else where the study was created, else the home's own."""
    if storage:
        return storage
    if name is not None:
        url = remembered.remembered(store.home).get(name)
        if url is not None:
            return url
    return home_url(store)


@contextlib.contextmanager
def _storage_errors(url: str) -> Iterator[None]:
    """A database error on ``url`` (a server gone, a network down) becomes one
    StorageError, and the storage is opened afresh next time (it may be back by then)."""
    try:
        yield
    except sqlalchemy.exc.SQLAlchemyError as err:
        forget_storage(url)
        raise StorageError(f"storage {masked(url)!r} failed: {reason(err, url)}") from None


def _load(url: str, name: str) -> tuple[optuna.Study, StudySpec]:
    """The study, or a UserError: unknown name (stating the names' pattern when ``name``
    does not follow it; a study named otherwise before the pattern still opens), or a
    storage down."""
    with _storage_errors(url):
        try:
            return load(shared_storage(url), name)
        except UserError:
            check_name(name)
            raise


# --- create -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Created:
    name: str
    spec: StudySpec
    storage: str
    """Its storage URL, password masked."""
    created: bool
    """False: a study of that name existed already with these settings."""
    elsewhere: bool
    """Kept in another database than the home's (its URL is remembered)."""
    password_dropped: bool
    """The URL had a password, which is not kept (PGPASSWORD or ~/.pgpass supply it)."""


def create_study(store: Store, name: str, spec: StudySpec, storage: str | None = None) -> Created:
    """Create the study with its N lifetimes queued (in ``storage``, else the home's own
    database); a study of that name with other settings is refused. A plug-in agent is
    kept under the name its runs record (a file spec made absolute)."""
    check_name(name)
    spec = dataclasses.replace(spec, agent=get_agent(spec.agent).name)
    url = study_url(store, name, storage)
    with _storage_errors(url):
        made = create(shared_storage(url), name, spec)
    elsewhere = url != home_url(store)
    if elsewhere:
        remembered.remember(store.home, name, without_password(url))
    return Created(
        name=name,
        spec=spec,
        storage=masked(url),
        created=made,
        elsewhere=elsewhere,
        password_dropped=elsewhere and bool(secrets(url)),
    )


# --- run, stop, remove ------------------------------------------------------------------
def run_study(
    store: Store,
    name: str,
    *,
    workers: int = 1,
    population: int | None = None,
    device: str | None = None,
    storage: str | None = None,
    on_begin: Callable[[StudySummary], None] = lambda summary: None,
    on_line: OnLine = lambda text, worker: None,
    stop: threading.Event | None = None,
) -> StudySummary:
    """Train the study's queued lifetimes until it has all N, here (one worker) or in
    ``workers`` processes; return its summary after. ``on_begin`` sees the summary before.
    Resuming is the same call: completed lifetimes stay, interrupted ones were re-queued.

    Each worker takes up to ``population`` trials at once (default: the study's own) and
    trains them as one population on ``device``; a size the study cannot use (an agent
    with no batched form, a searched field the members must share) is refused first.

    ``stop`` (or Ctrl+C with several workers) ends the running lifetimes with a
    checkpoint; their trials are queued again, and `resume` continues.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers {workers}: give 1 to {MAX_WORKERS}", field="workers")
    url = study_url(store, name, storage)
    study, spec = _load(url, name)
    population = spec.population if population is None else population
    spec.check_population(population)
    device = None if device is None else resolve_device(device)
    on_begin(summarize(name, url, study, spec))
    if workers == 1:
        work(
            name,
            url,
            RunTrainer(store, device),
            population=population,
            on_outcome=lambda outcome: on_line(outcome_line(outcome), None),
            stop_event=stop,
        )
    else:
        run_workers(name, url, store.home, workers, on_line, stop, population, device)
    study, spec = _load(url, name)
    return summarize(name, url, study, spec)


def run_worker(
    store: Store,
    name: str,
    *,
    population: int | None = None,
    device: str | None = None,
    storage: str | None = None,
    on_line: OnLine = lambda text, worker: None,
    stop: threading.Event | None = None,
) -> StudySummary:
    """One worker in this process, as any machine that reaches the storage runs one."""
    url = study_url(store, name, storage)
    _, spec = _load(url, name)  # a clear error now rather than in the loop
    spec.check_population(spec.population if population is None else population)
    device = None if device is None else resolve_device(device)
    work(
        name,
        url,
        RunTrainer(store, device),
        population=population,
        worker_index=os.getpid(),
        on_outcome=lambda outcome: on_line(outcome_line(outcome), None),
        stop_event=stop,
    )
    study, spec = _load(url, name)
    return summarize(name, url, study, spec)


def start_study(store: Store, name: str) -> Path:
    """`workbench study run NAME` detached (closing the UI leaves it running); its output
    goes to the returned log file."""
    check_name(name)  # it names the log file
    return detached(store.home, f"study-{name}.log", "study", "run", name)


def start_group_training(store: Store, group: str, lifetimes: int) -> Path:
    """`workbench study compare GROUP` detached: trains the group's missing fresh
    lifetimes; its output goes to the returned log file."""
    check_name(group, "group", "group")  # it names the log file
    return detached(
        store.home,
        f"compare-{group}.log",
        "study",
        "compare",
        group,
        "--lifetimes",
        str(lifetimes),
    )


def stop_study(store: Store, name: str) -> list[int]:
    """Ask the study's active runs in this store to stop (each checkpoints, and its trial
    is queued again); the ids of those asked."""
    stopped = []
    for run in active_runs(store, name):
        store.request_stop(run.id)
        stopped.append(run.id)
    return stopped


def remove_study(store: Store, name: str, storage: str | None = None) -> int:
    """Delete a study no worker is running, with its trials and its runs in this store;
    the number of runs deleted."""
    url = study_url(store, name, storage)
    study, _ = _load(url, name)
    with _storage_errors(url):
        fail_stale_trials(study)  # a dead worker's trial is not one running
    if counts(study).running:
        raise UserError(
            f"study {name} has running trials; stop its workers first (Ctrl+C on `study run`)"
        )
    active = [run.id for run in active_runs(store, name)]
    if active:
        raise UserError(
            f"runs {', '.join(map(str, active))} of study {name} are active; stop them first"
        )
    runs = study_runs(store, name)
    for run in runs:
        store.delete_run(run.id)
    with _storage_errors(url):
        optuna.delete_study(study_name=name, storage=shared_storage(url))
    remembered.forget(store.home, name)
    return len(runs)


# --- reads ------------------------------------------------------------------------------
def list_studies(store: Store) -> list[StudySummary]:
    """Every study the home knows, with its summary (``unreachable`` when its storage is
    down)."""
    found = known_studies(home_url(store), remembered.remembered(store.home))
    return [study_summary(name, url) for name, url in found]


@dataclass(frozen=True)
class StudyDetail:
    """One study: its summary, every trial, and the curve of the agent's main metric
    (``metric``) of each running trial whose run is in this store."""

    summary: StudySummary
    trials: list[TrialRow]
    metric: str
    live: dict[int, Curve] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.summary.name

    @property
    def spec(self) -> StudySpec:
        assert self.summary.spec is not None
        return self.summary.spec


def main_metric(agent: str) -> str:
    """The metric a study of this agent is judged by (a plug-in agent no longer installed
    falls back to the plain episode return)."""
    spec = AGENTS.get(agent)
    return spec.main_metric if spec is not None else "eval/episode_return"


def study_detail(
    store: Store, name: str, storage: str | None = None, *, curves: bool = True
) -> StudyDetail:
    url = study_url(store, name, storage)
    study, spec = _load(url, name)
    with _storage_errors(url):
        summary = summarize(name, url, study, spec)
        trials = read_trial_rows(study)
    metric = main_metric(spec.agent)
    live = trial_curves(store, name, trials, metric) if curves else {}
    return StudyDetail(summary, trials, metric, live)


def compare_group(
    store: Store,
    group: str,
    lifetimes: int,
    *,
    train: bool = True,
    on_start: Callable[[str, int, int], None] = lambda name, k, run_id: None,
    stop: threading.Event | None = None,
    population: int | None = None,
) -> list[CompareRow]:
    """One row per study of the group: its choice re-evaluated on ``lifetimes`` fresh
    lifetimes (with ``train``, those missing are trained here, ``on_start(study, k,
    run_id)`` as each begins; without, only those done count), beside the search's cost.
    ``stop`` ends the training with a checkpoint (the rows then count what is done).
    The missing lifetimes of a study train ``population`` at a time (default: the
    study's own) as one batched population, where its agent has that form.
    """
    if not 1 <= lifetimes <= MAX_LIFETIMES:
        raise ConfigError(f"--lifetimes {lifetimes}: give 1 to {MAX_LIFETIMES}", field="lifetimes")
    if population is not None and not 1 <= population <= MAX_POPULATION:
        raise ConfigError(
            f"--population {population}: give 1 to {MAX_POPULATION}", field="population"
        )
    known = known_studies(home_url(store), remembered.remembered(store.home))
    specs = []
    for name, url in known:
        with _storage_errors(url):
            specs.append((name, url, find(shared_storage(url), name)))
    members = [(name, url) for name, url, spec in specs if spec and spec.group == group]
    if not members:
        groups = sorted({spec.group for _, _, spec in specs if spec and spec.group})
        raise UserError(
            f"no study in group {group!r}; groups: {', '.join(groups) or 'none yet'} "
            "(set with `study create --group`)"
        )
    trainer = RunTrainer(store)
    rows = []
    for name, url in members:
        study, spec = _load(url, name)

        def started(k: int, run_id: int, name: str = name) -> None:
            on_start(name, k, run_id)

        rows.append(compare_row(study, spec, trainer, lifetimes, started, train, stop, population))
    return rows


# --- how studies look in listings --------------------------------------------------------
LIST_COLUMNS = ("name", "method", "agent", "task", "group", "done", "best", "discount", "state")


def list_cells(summary: StudySummary) -> tuple[str, ...]:
    """A summary's cells in LIST_COLUMNS order, as `study ls` and the TUI list them."""
    if not summary.reachable or summary.spec is None:
        return (summary.name, *["-"] * 7, "unreachable")
    spec = summary.spec
    return (
        summary.name,
        spec.method,
        spec.agent,
        spec.task,
        spec.group or "-",
        f"{summary.counts.done}/{spec.trials}",
        fixed(summary.best_value, 2),
        fixed(summary.best_discount, 4),
        summary.state,
    )


def outcome_line(outcome: Outcome) -> str:
    """One line per finished trial, as a study run prints it."""
    text = f"trial {outcome.number}: {outcome.state_name}"
    if outcome.value is not None:
        text += f", return {fixed(outcome.value, 2)}"
    if outcome.discount is not None:
        text += f", discount {fixed(outcome.discount, 4)}"
    if outcome.note and outcome.state_name != "pruned":
        text += f" ({outcome.note})"
    return text + (f"  [run {outcome.run_id}]" if outcome.run_id is not None else "")
