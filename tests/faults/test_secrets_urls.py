"""Secrets in any part of a storage URL (the password of its user info, or a query value
such as ``?password=``) are masked in every message and listing and never kept (issue 12,
item 7: a password given as ``?password=`` was printed in errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies.storage import reason
from studies.urls import masked, without_password

from .conftest import assert_one_line_refusal

STUDY = ["--agent", "a2c", "--task", "cartpole", "--method", "grid", "--trials", "4"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice@db.example/studies?password=hunter2",
        "postgresql://alice@db.example/studies?sslmode=require&sslpassword=hunter2",
        "mysql+pymysql://alice@db/s?api_token=hunter2&charset=utf8",
        "postgresql://alice:p%40ss@db/s?password=hunter2",
    ],
)
def test_masked_hides_every_secret(url: str) -> None:
    shown = masked(url)
    assert "hunter2" not in shown
    assert "p%40ss" not in shown and "p@ss" not in shown
    assert "alice" in shown and "db" in shown
    kept = without_password(url)
    assert "hunter2" not in kept and "p%40ss" not in kept
    if "sslmode" in url:
        assert "sslmode=require" in shown and "sslmode=require" in kept


def test_reason_scrubs_the_secrets_a_driver_quotes() -> None:
    url = "postgresql://alice:p%40ss@db/s?password=hunter2"
    err = RuntimeError('connection to "db" failed: password=hunter2 for p@ss (p%40ss)\nmore')
    text = reason(err, url)
    assert "hunter2" not in text and "p@ss" not in text and "p%40ss" not in text
    assert "\n" not in text
    from studies.urls import secrets

    assert set(secrets(url)) >= {"p@ss", "hunter2"}


def test_a_query_password_never_reaches_the_terminal(cli, home: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/x.db?password=hunter2"
    result = cli("study", "create", "s", *STUDY, "--steps", "1000", "--storage", url)
    assert_one_line_refusal(result)
    assert "hunter2" not in result.stderr


def test_a_query_password_is_not_remembered(cli, home: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/other.db?mode=rwc&token=hunter2"
    result = cli("study", "create", "s", *STUDY, "--steps", "1000", "--storage", url)
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.stdout
    remembered = (home / "study-storages.json").read_text()
    assert "hunter2" not in remembered
    assert json.loads(remembered)
    listed = cli("study", "ls", "--json")
    assert "hunter2" not in listed.stdout
