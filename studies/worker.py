"""Study workers: take queued trials one at a time and train each as a workbench run.

``python -m studies.worker NAME --storage URL --home DIR`` is one worker; `workbench study
run --workers W` starts W of them as processes (the URL in their environment, not argv),
and `workbench study worker` runs one in the foreground on any machine that reaches the
storage. Each trial is a run in the worker's own workbench store, linked to the study and
trial, so its curves show like any run's. A trial's value is the undiscounted return of
the lifetime's final evaluation; each evaluation before it is reported as an intermediate
value for the pruner.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState

from envs.config import ConfigError
from studies.storage import HEARTBEAT_INTERVAL, MAX_RETRY, STORAGE_ENV, open_storage
from studies.study import META_GRADIENT_AGENTS, Counts, StudySpec, counts, load
from workbench.runner import Progress, execute
from workbench.store import Store, StoreError

IDLE_POLL_SECONDS = 1.0


@dataclass
class Outcome:
    number: int
    state: TrialState
    value: float | None
    discount: float | None
    run_id: int
    note: str = ""


def take_queued_trial(study: optuna.Study) -> optuna.Trial | None:
    """A queued trial, atomically marked running, or None when the queue is empty.

    Unlike Study.ask, never creates a trial: every trial a study will run was queued at
    its creation (or by a retry), which is what keeps grid points unique across workers.
    """
    trial_id = study._pop_waiting_trial_id()  # Optuna's own atomic WAITING -> RUNNING
    return None if trial_id is None else optuna.Trial(study, trial_id)


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
    store: Store,
    stop_event: threading.Event,
) -> Outcome:
    """Train the trial's lifetime as a run in ``store`` and tell the study how it went."""
    params = suggest_all(trial, spec)
    config = spec.config_for(params)
    seed = spec.seed + trial.number
    name = f"{study.study_name}/trial-{trial.number}"
    run_id = spec.create_run(store, study.study_name, config, seed, name, trial=trial.number)
    trial.set_user_attr("run_id", run_id)
    trial.set_user_attr("seed", seed)
    trial.set_user_attr("host", store.host)
    last_eval_step = -1
    evaluations = 0
    pruned = False

    def on_progress(progress: Progress) -> None:
        # Intermediate values are indexed by evaluation (1, 2, ...), not by env step:
        # runs cross an evaluation interval at slightly different steps, and the pruners
        # compare trials at equal indices.
        nonlocal last_eval_step, evaluations, pruned
        step = progress.summary.get("eval_step")
        if step is None or step == last_eval_step or step >= spec.steps:
            return
        last_eval_step = step
        evaluations += 1
        trial.report(progress.summary["eval_return_mean"], evaluations)
        if trial.should_prune():
            pruned = True
            stop_event.set()

    heartbeat = _TrialHeartbeat(study._storage, trial._trial_id)
    heartbeat.start()
    try:
        run = execute(store, run_id, on_progress=on_progress, stop_event=stop_event)
    finally:
        heartbeat.done.set()
        heartbeat.join()
    discount = (
        store.last_value(run_id, "meta/discount")
        if spec.agent in META_GRADIENT_AGENTS
        else config.get("discount")
    )
    trial.set_user_attr("discount", discount)
    trial.set_user_attr("env_steps", run.steps_done)
    trial.set_user_attr("wall_s", (run.ended_at or time.time()) - (run.started_at or time.time()))
    value = run.summary.get("eval_return_mean")
    if run.status == "completed" and value is not None:
        study.tell(trial, value)
        return Outcome(trial.number, TrialState.COMPLETE, value, discount, run_id)
    if pruned:
        stop_event.clear()
        study.tell(trial, state=TrialState.PRUNED)
        return Outcome(trial.number, TrialState.PRUNED, None, discount, run_id, "pruned")
    frozen = study.tell(trial, state=TrialState.FAIL)
    if run.status == "stopped":  # interrupted: queue it again, as a stale trial would be
        RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, frozen)
        return Outcome(trial.number, TrialState.FAIL, None, discount, run_id, "interrupted")
    trial_error = run.error or "no evaluation"
    study.set_user_attr(f"error_trial_{trial.number}", trial_error)
    return Outcome(trial.number, TrialState.FAIL, None, discount, run_id, trial_error)


def work(
    name: str,
    url: str,
    home: str | os.PathLike | None,
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
    store = Store(home)
    try:
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
            outcome = run_trial(study, trial, spec, store, stop_event)
            on_outcome(outcome)
            if outcome.note == "interrupted":
                break
        return counts(study)
    finally:
        store.close()


def die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (`kill -9` of `study run` ends its workers,
    whose trials then come back through the heartbeat)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.worker")
    parser.add_argument("name")
    parser.add_argument(
        "--storage",
        default=os.environ.get(STORAGE_ENV),
        help=f"database URL; default ${STORAGE_ENV} (which keeps a password out of `ps`)",
    )
    parser.add_argument("--home", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--die-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if not args.storage:
        parser.error(f"give --storage URL or set {STORAGE_ENV}")
    if args.die_with_parent:
        die_with_parent()
    stop_event = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_event.set())

    def report(outcome: Outcome) -> None:
        print(format_outcome(outcome), flush=True)

    try:
        work(
            args.name,
            args.storage,
            args.home,
            worker_index=args.index,
            on_outcome=report,
            stop_event=stop_event,
        )
    except (ConfigError, StoreError) as err:
        print(f"worker {args.index}: {err}", file=sys.stderr)
        return 2
    return 0


def format_outcome(outcome: Outcome) -> str:
    text = f"trial {outcome.number}: {outcome.state.name.lower()}"
    if outcome.value is not None:
        text += f", return {outcome.value:.2f}"
    if outcome.discount is not None:
        text += f", discount {outcome.discount:.4f}"
    if outcome.note and outcome.state != TrialState.PRUNED:
        text += f" ({outcome.note})"
    return text + f"  [run {outcome.run_id}]"


if __name__ == "__main__":
    sys.exit(main())
