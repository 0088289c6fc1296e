"""Fixtures and helpers of the fault suite: frequent checkpoints, and what every bad
input must give (one line, exit 2, no traceback, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.store import Store


@pytest.fixture
def frequent_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoint every 500 steps with no minimum wait (the runner's test hook; inherited
    by worker processes)."""
    monkeypatch.setenv("WORKBENCH_CHECKPOINT_STEPS", "500")
    monkeypatch.setenv("WORKBENCH_CHECKPOINT_MIN_SECONDS", "0")


def assert_one_line_refusal(result, *needles: str) -> None:
    """Exit 2, one line on stderr containing every needle, no traceback, nothing on
    stdout."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert result.stdout == ""


def nothing_stored(home: Path) -> bool:
    """No run and no study in the home (the store may not even exist)."""
    if not (home / "workbench.db").exists():
        return True
    store = Store(home)
    try:
        if store.list_runs(None):
            return False
    finally:
        store.close()
    import optuna

    from studies.storage import open_storage, sqlite_url

    return not optuna.get_all_study_summaries(open_storage(sqlite_url(home / "workbench.db")))
