"""The trial loop: take queued trials one at a time and have each lifetime trained.

``work(name, url, trainer)`` is one worker. The trainer it is handed trains one lifetime
(the workbench's records it as a run linked to the study and trial, `workbench/trials.py`,
so its curves show like any run's). `workbench study run --workers W` starts W worker
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

from studies.lifetimes import Trainer, Verdict
from studies.storage import HEARTBEAT_INTERVAL, MAX_RETRY, open_storage
from studies.study import META_GRADIENT_AGENTS, Counts, StudySpec, counts, load

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


def take_queued_trial(study: optuna.Study) -> optuna.Trial | None:
    """A queued trial, atomically marked running, or None when the queue is empty.

    Unlike Study.ask, never creates a trial: every trial a study will run was queued at
    its creation (or by a retry), which is what keeps grid points unique across workers.
    Each trial's heartbeat is recorded before it is marked running (Optuna's own
    ``_pop_waiting_trial_id`` marks it first), so a worker that dies at any point after
    taking it leaves a trial that goes stale and is retried, never one running forever.
    A heartbeat on a trial another worker takes first is harmless: that worker beats it.
    """
    storage = study._storage
    for waiting in storage.get_all_trials(
        study._study_id, deepcopy=False, states=(TrialState.WAITING,)
    ):
        storage.record_heartbeat(waiting._trial_id)
        try:
            if storage.set_trial_state_values(waiting._trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, waiting._trial_id)
        except UpdateFinishedTrialError:
            continue
    return None


class _TrialHeartbeat(threading.Thread):
    def __init__(self, storage, trial_id: int) -> None:
        super().__init__(daemon=True, name=f"trial-heartbeat-{trial_id}")
        self.storage, self.trial_id = storage, trial_id
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            self.storage.record_heartbeat(self.trial_id)
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
    heartbeat = _TrialHeartbeat(study._storage, trial._trial_id)
    heartbeat.start()
    try:
        try:
            return _train_trial(study, trial, spec, trainer, stop_event)
        except Exception as err:  # noqa: BLE001 - any failure ends this trial, not the worker
            error = f"{type(err).__name__}: {err}"
            study.tell(trial, state=TrialState.FAIL)
            study.set_user_attr(f"error_trial_{trial.number}", error)
            run_id = trial.user_attrs.get("run_id")
            return Outcome(trial.number, TrialState.FAIL, None, None, run_id, error)
    finally:
        heartbeat.done.set()
        heartbeat.join()


def _train_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    spec: StudySpec,
    trainer: Trainer,
    stop_event: threading.Event,
) -> Outcome:
    params = suggest_all(trial, spec)
    config = spec.config_for(params)
    seed = spec.seed + trial.number
    name = f"{study.study_name}/trial-{trial.number}"
    lifetime = spec.lifetime(study.study_name, config, seed, name, trial=trial.number)
    evaluations = 0

    def started(run_id: int) -> None:
        trial.set_user_attr("run_id", run_id)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("host", socket.gethostname())

    def evaluated(step: int, value: float) -> Verdict:
        # Intermediate values are indexed by evaluation (1, 2, ...), not by env step:
        # runs cross an evaluation interval at slightly different steps, and the pruners
        # compare trials at equal indices. The final evaluation is the trial's value.
        nonlocal evaluations
        if step >= spec.steps:
            return Verdict.CONTINUE
        evaluations += 1
        trial.report(value, evaluations)
        return Verdict.PRUNE if trial.should_prune() else Verdict.CONTINUE

    result = trainer.train(lifetime, on_start=started, on_evaluation=evaluated, stop=stop_event)
    run_id = result.run_id
    discount = (
        result.learned_discount if spec.agent in META_GRADIENT_AGENTS else config.get("discount")
    )
    trial.set_user_attr("discount", discount)
    trial.set_user_attr("env_steps", result.env_steps)
    trial.set_user_attr("wall_s", result.wall_s)
    if result.status == "completed" and result.value is not None:
        study.tell(trial, result.value)
        return Outcome(trial.number, TrialState.COMPLETE, result.value, discount, run_id)
    if result.status == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
        return Outcome(trial.number, TrialState.PRUNED, None, discount, run_id, "pruned")
    frozen = study.tell(trial, state=TrialState.FAIL)
    if result.status == "stopped":  # interrupted: queue it again, as a stale trial would be
        RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, frozen)
        return Outcome(trial.number, TrialState.FAIL, None, discount, run_id, "interrupted")
    trial_error = result.error or "no evaluation"
    study.set_user_attr(f"error_trial_{trial.number}", trial_error)
    return Outcome(trial.number, TrialState.FAIL, None, discount, run_id, trial_error)


def work(
    name: str,
    url: str,
    trainer: Trainer,
    *,
    worker_index: int = 0,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    stop_event: threading.Event | None = None,
) -> Counts:
    """Take queued trials until the study has its N lifetimes or nothing is left to take.

    While other workers' trials run, wait: one of them may die, and its trial comes back
    to the queue once its heartbeat is stale.
    """
    storage = open_storage(url)
    stop_event = stop_event or threading.Event()
    study, spec = load(storage, name, worker_index=worker_index)
    while not stop_event.is_set():
        fail_stale_trials(study)
        now = counts(study)
        if now.done >= spec.trials:
            break
        trial = take_queued_trial(study)
        if trial is None:
            if now.running == 0:
                break  # the rest failed for good: nothing left to take
            time.sleep(IDLE_POLL_SECONDS)
            continue
        outcome = run_trial(study, trial, spec, trainer, stop_event)
        on_outcome(outcome)
        if outcome.note == "interrupted":
            break
    return counts(study)
