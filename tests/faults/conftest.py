"""Fixtures of the fault tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def frequent_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoint every 500 steps with no minimum wait (the runner's test hook; inherited
    by worker processes)."""
    monkeypatch.setenv("WORKBENCH_CHECKPOINT_STEPS", "500")
    monkeypatch.setenv("WORKBENCH_CHECKPOINT_MIN_SECONDS", "0")
