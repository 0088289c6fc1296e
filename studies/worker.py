"""The trial loop: take queued trials, one at a time or P at once, and have each lifetime
trained.

``work(name, url, trainer)`` is one worker. The trainer it is handed trains one lifetime,
or (``population`` P > 1) up to P lifetimes as one batched population (the workbench's
records each as a run linked to the study and trial, `workbench/trials.py`, so its curves
show like any run's). Grid and random points, and a meta-gradient study's seeds, are all
queued at creation, so a worker takes P of them at once; a Bayesian study's trials are
sampled as they are taken, so it runs in batches of P, each sampled knowing the others
run (studies/study.py ``sampler_for``). `workbench study run --workers W` starts W worker
processes (`python -m workbench.study_worker`), and `workbench study worker` runs one in
the foreground on any machine that reaches the storage. A trial's value is the
undiscounted return of the lifetime's final evaluation; each evaluation before it is
reported to the pruner, whose verdict may prune the lifetime.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState

from studies.bulk import Counts, counts
from studies.lifetimes import LifetimeResult, PopulationTrainer, Trainer, Verdict
from studies.storage import HEARTBEAT_INTERVAL, MAX_RETRY, open_storage
from studies.study import StudySpec, learns_discount, load

IDLE_POLL_SECONDS = 1.0


@dataclass
class Outcome:
    number: int
    state: TrialState
    value: float | None
    discount: float | None
    run_id: int | None
    """None when the trial failed before its lifetime had a run."""
    note: str = ""

    @property
    def state_name(self) -> str:
        return self.state.name.lower()


def take_queued_trials(study: optuna.Study, limit: int) -> list[optuna.Trial]:
    """Up to ``limit`` queued trials, each atomically marked running; [] when the queue is
    empty.

    Unlike Study.ask, never creates a trial: every trial a study will run was queued at
    its creation (or by a retry), which is what keeps grid points unique across workers.
    Each trial's heartbeat is recorded before it is marked running (Optuna's own
    ``_pop_waiting_trial_id`` marks it first), so a worker that dies at any point after
    taking it leaves a trial that goes stale and is retried, never one running forever.
    A heartbeat on a trial another worker takes first is harmless: that worker beats it.
    """
    storage = study._storage
    taken: list[optuna.Trial] = []
    for waiting in storage.get_all_trials(
        study._study_id, deepcopy=False, states=(TrialState.WAITING,)
    ):
        if len(taken) == limit:
            break
        storage.record_heartbeat(waiting._trial_id)
        try:
            if storage.set_trial_state_values(waiting._trial_id, state=TrialState.RUNNING):
                taken.append(optuna.Trial(study, waiting._trial_id))
        except UpdateFinishedTrialError:
            continue
    return taken


def take_queued_trial(study: optuna.Study) -> optuna.Trial | None:
    """One queued trial, marked running (``take_queued_trials``), or None."""
    taken = take_queued_trials(study, 1)
    return taken[0] if taken else None


class _TrialHeartbeat(threading.Thread):
    """Beats the heartbeat of every trial a worker is training, until ``done``."""

    def __init__(self, storage, trial_ids: list[int]) -> None:
        super().__init__(daemon=True, name=f"trial-heartbeat-{trial_ids[0]}")
        self.storage, self.trial_ids = storage, trial_ids
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            for trial_id in self.trial_ids:
                self.storage.record_heartbeat(trial_id)
            if self.done.wait(HEARTBEAT_INTERVAL):
                return


def suggest_all(trial: optuna.Trial, spec: StudySpec) -> dict[str, float | int]:
    values: dict[str, float | int] = {}
    for p in spec.space():
        if p.integer:
            values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return values


class _TrialLifetime:
    """A taken trial with its parameters sampled: the lifetime to train, the hooks the
    trainer calls, and how the study is told the result."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial, spec: StudySpec) -> None:
        self.study, self.trial, self.spec = study, trial, spec
        self.config = spec.config_for(suggest_all(trial, spec))
        self.seed = spec.seed + trial.number
        name = f"{study.study_name}/trial-{trial.number}"
        self.lifetime = spec.lifetime(
            study.study_name, self.config, self.seed, name, trial=trial.number
        )
        self.evaluations = 0

    def started(self, run_id: int) -> None:
        self.trial.set_user_attr("run_id", run_id)
        self.trial.set_user_attr("seed", self.seed)
        self.trial.set_user_attr("host", socket.gethostname())

    def evaluated(self, step: int, value: float) -> Verdict:
        # Intermediate values are indexed by evaluation (1, 2, ...), not by env step:
        # runs cross an evaluation interval at slightly different steps, and the pruners
        # compare trials at equal indices. The final evaluation is the trial's value.
        if step >= self.spec.steps or step < self.spec.prune_after:
            return Verdict.CONTINUE  # the value, or not yet the pruner's to see
        self.evaluations += 1
        self.trial.report(value, self.evaluations)
        return Verdict.PRUNE if self.trial.should_prune() else Verdict.CONTINUE

    def tell(self, result: LifetimeResult) -> Outcome:
        study, trial, spec, number = self.study, self.trial, self.spec, self.trial.number
        run_id = result.run_id
        discount = (
            result.learned_discount
            if learns_discount(spec.agent, spec.fixed)
            else self.config.get("discount")
        )
        trial.set_user_attr("discount", discount)
        trial.set_user_attr("env_steps", result.env_steps)
        trial.set_user_attr("wall_s", result.wall_s)
        if result.status == "completed" and result.value is not None:
            study.tell(trial, result.value)
            return Outcome(number, TrialState.COMPLETE, result.value, discount, run_id)
        if result.status == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
            return Outcome(number, TrialState.PRUNED, None, discount, run_id, "pruned")
        frozen = study.tell(trial, state=TrialState.FAIL)
        if result.status == "stopped":  # interrupted: queue it again, as a stale trial would be
            RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, frozen)
            return Outcome(number, TrialState.FAIL, None, discount, run_id, "interrupted")
        trial_error = result.error or "no evaluation"
        study.set_user_attr(f"error_trial_{number}", trial_error)
        return Outcome(number, TrialState.FAIL, None, discount, run_id, trial_error)


def _failed(study: optuna.Study, trial: optuna.Trial, err: Exception) -> Outcome:
    """End the trial FAIL with the error's one line (the worker goes on to the next)."""
    error = f"{type(err).__name__}: {err}"
    study.tell(trial, state=TrialState.FAIL)
    study.set_user_attr(f"error_trial_{trial.number}", error)
    run_id = trial.user_attrs.get("run_id")
    return Outcome(trial.number, TrialState.FAIL, None, None, run_id, error)


def run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    spec: StudySpec,
    trainer: Trainer,
    stop_event: threading.Event,
) -> Outcome:
    """Have the trial's lifetime trained and tell the study how it went.

    Its heartbeat beats from here until the study is told; anything that fails before
    the lifetime's own result (a config that does not build, a run row that cannot be
    written) ends the trial FAIL with that error, so the worker goes on to the next.
    """
    heartbeat = _TrialHeartbeat(study._storage, [trial._trial_id])
    heartbeat.start()
    try:
        try:
            member = _TrialLifetime(study, trial, spec)
            result = trainer.train(
                member.lifetime,
                on_start=member.started,
                on_evaluation=member.evaluated,
                stop=stop_event,
            )
            return member.tell(result)
        except Exception as err:  # noqa: BLE001 - any failure ends this trial, not the worker
            return _failed(study, trial, err)
    finally:
        heartbeat.done.set()
        heartbeat.join()


def run_trials(
    study: optuna.Study,
    trials: list[optuna.Trial],
    spec: StudySpec,
    trainer: PopulationTrainer,
    stop_event: threading.Event,
) -> list[Outcome]:
    """Have the trials' lifetimes trained as one population and tell the study how each
    went, in trial order.

    The trials' parameters are sampled one after the other, each while the earlier ones
    are running (what TPE's constant liar and GP's q-batch acquisition condition on). A
    trial whose config does not build fails alone; a failure of the population's training
    itself fails every trial in it. A pruned member stops; the others go on.
    """
    heartbeat = _TrialHeartbeat(study._storage, [trial._trial_id for trial in trials])
    heartbeat.start()
    outcomes: dict[int, Outcome] = {}
    try:
        members: list[_TrialLifetime] = []
        for trial in trials:
            try:
                members.append(_TrialLifetime(study, trial, spec))
            except Exception as err:  # noqa: BLE001 - this trial fails, the batch goes on
                outcomes[trial.number] = _failed(study, trial, err)
        if members:
            try:
                results = trainer.train_population(
                    [member.lifetime for member in members],
                    on_start=lambda index, run_id: members[index].started(run_id),
                    on_evaluation=lambda index, step, value: members[index].evaluated(step, value),
                    stop=stop_event,
                )
                for member, result in zip(members, results, strict=True):
                    outcomes[member.trial.number] = member.tell(result)
            except Exception as err:  # noqa: BLE001 - any failure ends these trials, not the worker
                for member in members:
                    if member.trial.number not in outcomes:
                        outcomes[member.trial.number] = _failed(study, member.trial, err)
    finally:
        heartbeat.done.set()
        heartbeat.join()
    return [outcomes[trial.number] for trial in trials]


def work(
    name: str,
    url: str,
    trainer: Trainer | PopulationTrainer,
    *,
    population: int | None = None,
    worker_index: int = 0,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    stop_event: threading.Event | None = None,
) -> Counts:
    """Take queued trials until the study has its N lifetimes or nothing is left to take:
    one at a time, or up to ``population`` at once (default: the study's own) trained as
    one population by the trainer's ``train_population``.

    While other workers' trials run, wait: one of them may die, and its trial comes back
    to the queue once its heartbeat is stale.
    """
    storage = open_storage(url)
    stop_event = stop_event or threading.Event()
    study, spec = load(storage, name, worker_index=worker_index)
    population = spec.population if population is None else population
    spec.check_population(population)
    while not stop_event.is_set():
        fail_stale_trials(study)
        now = counts(study)
        if now.done >= spec.trials:
            break
        trials = take_queued_trials(study, population)
        if not trials:
            if now.running == 0:
                break  # the rest failed for good: nothing left to take
            time.sleep(IDLE_POLL_SECONDS)
            continue
        if len(trials) == 1:
            outcomes = [run_trial(study, trials[0], spec, trainer, stop_event)]
        else:
            outcomes = run_trials(study, trials, spec, trainer, stop_event)  # type: ignore[arg-type]
        for outcome in outcomes:
            on_outcome(outcome)
        if any(outcome.note == "interrupted" for outcome in outcomes):
            break
    return counts(study)
