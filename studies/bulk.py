"""What Optuna's API does one trial at a time, done in one statement on its RDB storage:
queueing a study's trials and counting them by state (``counts``, a ``Counts``). A
10,000-trial study took 49 s to create and seconds to count (benchmarks/study_scale.py).
Both use the storage's own models, under the lock Optuna takes to number a trial; any
other storage gets the plain API calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import RDBStorage
from optuna.trial import TrialState


def enqueue_all(study: optuna.Study, points: list[dict[str, Any]]) -> None:
    """Queue one trial per point, the trials ``study.enqueue_trial(point)`` makes (state
    WAITING, the point as the ``fixed_params`` system attribute, numbers in order), but
    on an RDB storage as two multi-row inserts in one transaction: one ORM transaction per
    trial took 49 s for 10,000 trials (benchmarks/study_scale.py). The study row is
    locked meanwhile, as Optuna locks it to number a new trial. Other storages get the
    plain calls."""
    storage = getattr(study._storage, "_backend", study._storage)  # under Optuna's cache
    if not isinstance(storage, RDBStorage) or not points:
        for point in points:
            study.enqueue_trial(point, skip_if_exists=False)
        return
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    study_id = study._study_id
    trials, attributes = models.TrialModel, models.TrialSystemAttributeModel
    with _create_scoped_session(storage.scoped_session) as session:
        models.StudyModel.find_or_raise_by_id(study_id, session, for_update=True)
        count = sqlalchemy.func.count(trials.trial_id)
        first = session.scalar(sqlalchemy.select(count).where(trials.study_id == study_id))
        session.execute(
            sqlalchemy.insert(trials),
            [
                {"number": first + i, "study_id": study_id, "state": TrialState.WAITING}
                for i in range(len(points))
            ],
        )
        ids = session.scalars(
            sqlalchemy.select(trials.trial_id)
            .where(trials.study_id == study_id, trials.number >= first)
            .order_by(trials.number)
        ).all()
        session.execute(
            sqlalchemy.insert(attributes),
            [
                {"trial_id": trial_id, "key": "fixed_params", "value_json": json.dumps(point)}
                for trial_id, point in zip(ids, points, strict=True)
            ],
        )


def state_tally(study: optuna.Study) -> dict[TrialState, int]:
    """How many trials of the study are in each state: on an RDB storage one GROUP BY
    (reading 10,000 trials to count them took seconds), else from the trials."""
    storage = getattr(study._storage, "_backend", study._storage)  # under Optuna's cache
    if not isinstance(storage, RDBStorage):
        tally: dict[TrialState, int] = {}
        for trial in study.get_trials(deepcopy=False):
            tally[trial.state] = tally.get(trial.state, 0) + 1
        return tally
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    trials = models.TrialModel
    query = (
        sqlalchemy.select(trials.state, sqlalchemy.func.count(trials.trial_id))
        .where(trials.study_id == study._study_id)
        .group_by(trials.state)
    )
    with _create_scoped_session(storage.scoped_session) as session:
        return {state: number for state, number in session.execute(query).all()}


@dataclass
class Counts:
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0

    @property
    def done(self) -> int:
        """Lifetimes that count toward the study's N: completed or pruned."""
        return self.complete + self.pruned


def counts(study: optuna.Study) -> Counts:
    result = Counts()
    names = {
        TrialState.COMPLETE: "complete",
        TrialState.PRUNED: "pruned",
        TrialState.FAIL: "failed",
        TrialState.RUNNING: "running",
        TrialState.WAITING: "waiting",
    }
    for state, number in state_tally(study).items():
        key = names[state]
        setattr(result, key, getattr(result, key) + number)
    return result
