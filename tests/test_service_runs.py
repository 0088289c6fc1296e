"""The runs service the CLI and the TUI share: validated settings, start, stop, resume,
delete and export, each raising a UserError (with its field) for what the user can fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.errors import UserError
from tests.conftest import wait_for
from workbench.service import runs as service
from workbench.store import RunRecord, Store

TINY = {
    "learning_starts": "100",
    "eval_episodes": "2",
    "train_frequency": "100",
    "gradient_steps": "2",
}


def test_settings_fill_every_field_from_texts_and_typed_values() -> None:
    settings = service.check_settings(
        "dqn", "cartpole", agent_values={"discount": "0.9", "n_step": 3}, steps=10
    )
    assert settings.config["discount"] == 0.9 and settings.config["n_step"] == 3
    assert "learning_rate" in settings.config and "context_low" in settings.task_params


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"steps": 0}, "steps"),
        ({"seed": -1}, "seed"),
        ({"agent_values": {"discount": "2"}}, "discount"),
        ({"agent_values": {"context_low": "0.5"}}, "context_low"),
        ({"task_values": {"discount": "0.5"}}, "discount"),
    ],
)
def test_settings_errors_name_their_field(kwargs, field) -> None:
    with pytest.raises(UserError) as error:
        service.check_settings("dqn", "cartpole", **kwargs)
    assert error.value.field == field


def trained(store: Store, seed: int = 0) -> RunRecord:
    """A tiny DQN run queued and trained in this process (the CLI's foreground path)."""
    settings = service.check_settings("dqn", "cartpole", agent_values=TINY, steps=300)
    run_id = service.create_run(store, settings, steps=300, seed=seed)
    return service.train_foreground(store, run_id)


def test_train_foreground_returns_the_final_row(store: Store) -> None:
    run = trained(store, seed=1)
    assert run.status == "completed" and run.steps_done == 300 and run.seed == 1
    assert run.summary["best_eval_return_mean"] is not None


def test_stop_refuses_a_run_that_is_not_active(store: Store) -> None:
    run = trained(store)
    with pytest.raises(UserError, match="is completed, not running; nothing to stop"):
        service.stop_run(store, run.id)


def test_stopping_a_queued_run_stops_it_and_resume_queues_it_again(store: Store) -> None:
    settings = service.check_settings("dqn", "cartpole", steps=10)
    run_id = service.create_run(store, settings, steps=10)
    assert service.stop_run(store, run_id, wait=0).status == "stopped"
    assert service.resume_run(store, run_id).status in ("queued", "running")
    with pytest.raises(UserError, match="only stopped, failed, lost runs resume"):
        service.resume_run(store, run_id)
    finished = wait_for(
        lambda: (run := store.get_run(run_id)).status not in ("queued", "running") and run,
        timeout=120,
    )
    assert finished.status == "completed" and finished.steps_done == 10


def test_export_and_delete(store: Store, tmp_path: Path) -> None:
    run = trained(store)
    exported = service.export_run(store, run.id, "json")
    document = json.loads(exported.text)
    assert document["run"]["best_eval_step"] == run.summary["best_eval_step"]
    assert len(document["metrics"]) == exported.steps > 0
    written = service.export_run_to(store, run.id, tmp_path / "out" / "run.csv")
    assert (tmp_path / "out" / "run.csv").read_text() == written.text
    with pytest.raises(UserError) as error:
        service.export_run(store, run.id, "xml")
    assert error.value.field == "format"
    deleted = service.delete_run(store, run.id)
    assert not Path(deleted.checkpoint_path).exists()
    assert not Path(deleted.best_checkpoint_path).exists()
    assert store.list_runs() == []


def test_a_checkpoint_choice_is_last_or_best() -> None:
    assert service.check_checkpoint("best") == "best"
    with pytest.raises(UserError) as error:
        service.check_checkpoint("worst", option="--init-checkpoint")
    assert error.value.field == "init-checkpoint"
