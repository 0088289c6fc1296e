"""Creating a study queues its trials in one transaction (studies.study.enqueue_all):
the trials are those that one ``enqueue_trial`` per point makes."""

from __future__ import annotations

from pathlib import Path

import optuna

from studies.storage import open_storage, sqlite_url
from studies.study import enqueue_all


def queued(path: Path, bulk: bool) -> list[tuple]:
    study = optuna.create_study(study_name="s", storage=open_storage(sqlite_url(path)))
    study.enqueue_trial({"discount": 0.5}, skip_if_exists=False)  # numbers continue after it
    points = [{"discount": 0.9 + i / 1000} for i in range(25)]
    if bulk:
        enqueue_all(study, points)
    else:
        for point in points:
            study.enqueue_trial(point, skip_if_exists=False)
    reread = optuna.load_study(study_name="s", storage=open_storage(sqlite_url(path)))
    return [
        (t.number, t.state, t.system_attrs, t.params, t.user_attrs, t.datetime_start)
        for t in reread.get_trials(deepcopy=False)
    ]


def test_bulk_enqueue_makes_the_trials_enqueue_trial_makes(tmp_path: Path) -> None:
    bulk = queued(tmp_path / "bulk.db", bulk=True)
    one_by_one = queued(tmp_path / "one.db", bulk=False)
    assert len(bulk) == 26
    assert bulk == one_by_one
    assert [number for number, *_ in bulk] == list(range(26))


def test_bulk_enqueued_trials_are_taken_in_order(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="s", storage=open_storage(sqlite_url(tmp_path / "x.db")))
    enqueue_all(study, [{"discount": 0.91}, {"discount": 0.92}])
    trial = study.ask()
    assert trial.suggest_float("discount", 0.9, 0.99) == 0.91


def test_counts_by_state_match_the_trials(tmp_path: Path) -> None:
    from studies.bulk import counts

    study = optuna.create_study(study_name="s", storage=open_storage(sqlite_url(tmp_path / "c.db")))
    enqueue_all(study, [{"discount": 0.9 + i / 100} for i in range(6)])
    for value in (1.0, 2.0):
        trial = study.ask()
        trial.suggest_float("discount", 0.9, 0.99)
        study.tell(trial, value)
    pruned = study.ask()
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    study.ask()  # running
    now = counts(study)
    assert (now.complete, now.pruned, now.failed, now.running, now.waiting) == (2, 1, 0, 1, 2)
