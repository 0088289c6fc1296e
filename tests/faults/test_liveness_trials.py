"""A study trial never stays RUNNING forever: its heartbeat starts before it is marked
running, and a failure between taking it and training it ends it FAIL with one line."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from studies.storage import open_storage
from studies.study import load
from studies.worker import take_queued_trial, work
from tests.test_studies import tiny_spec as spec
from workbench.service import studies as service
from workbench.store import Store


def test_a_taken_trial_has_a_heartbeat_before_anything_else_runs(home: Path) -> None:
    store = Store(home)
    service.create_study(store, "s", spec())
    url = service.home_url(store)
    study, _ = load(open_storage(url), "s")
    trial = take_queued_trial(study)  # ... and the worker dies here, before training
    assert study.get_trials()[trial.number].state == TrialState.RUNNING
    # Another worker, later, with a 1 s grace: the trial is stale, so it is retried.
    impatient = RDBStorage(url, heartbeat_interval=1, grace_period=1)
    time.sleep(2.5)  # SQLite keeps heartbeats to the second
    assert impatient._get_stale_trial_ids(study._study_id) == [trial._trial_id]
    store.close()


class FailingTrainer:
    """Fails as create_run did with an overflowing step budget, before any run exists."""

    def __init__(self) -> None:
        self.calls = 0

    def train(self, lifetime, *, on_start, on_evaluation, stop=None):
        self.calls += 1
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    def finished(self, study, config):
        return {}


def test_a_failure_before_training_fails_the_trial_with_one_line(home: Path) -> None:
    store = Store(home)
    service.create_study(store, "s", spec())
    url = service.home_url(store)
    outcomes = []
    done = threading.Event()

    def run() -> None:
        work("s", url, FailingTrainer(), on_outcome=outcomes.append)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30), "the worker hung"
    study, _ = load(open_storage(url), "s")
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.FAIL]
    assert [o.state for o in outcomes] == [TrialState.FAIL, TrialState.FAIL]
    line = service.outcome_line(outcomes[0])
    assert (
        line == "trial 0: fail (OverflowError: Python int too large to convert to SQLite INTEGER)"
    )
    assert "OverflowError" in study.user_attrs["error_trial_0"]
    # Nothing is left running: the study can be removed.
    assert service.remove_study(store, "s") == 0
    store.close()


def test_study_rm_fails_a_dead_workers_stale_trial_instead_of_refusing(
    home: Path, monkeypatch
) -> None:
    store = Store(home)
    service.create_study(store, "s", spec())
    url = service.home_url(store)
    storage = RDBStorage(url, heartbeat_interval=1, grace_period=1)
    study = optuna.load_study(study_name="s", storage=storage)
    take_queued_trial(study)  # a worker that died right after taking it
    time.sleep(2.5)  # SQLite keeps heartbeats to the second
    monkeypatch.setattr(service, "shared_storage", lambda url: storage)
    assert service.remove_study(store, "s") == 0
    store.close()
