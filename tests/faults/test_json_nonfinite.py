"""Every ``--json`` output is valid JSON (issue 12, item 7): NaN and infinities in a
run's summary or metrics, or a trial's attributes, are written as null with the value as
text beside them under KEY_raw, where before they came out as the bare words NaN and
Infinity that JSON parsers refuse."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from studies.storage import open_storage, sqlite_url
from studies.study import create, load
from studies.worker import take_queued_trial
from workbench.store import Store

from .names import study_spec


def strict(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity, as other languages' parsers do."""

    def refuse(word: str):
        raise ValueError(f"invalid JSON constant {word}")

    return json.loads(text, parse_constant=refuse)


def nonfinite_run(home: Path) -> int:
    store = Store(home)
    run_id = store.create_run(
        agent="dqn", task="cartpole", config={}, task_params={}, seed=0, total_steps=300
    )
    store.claim(run_id, pid=1)
    rows = [
        ("charts/episode_return", 100, 1.0),
        ("train/td_loss", 100, math.nan),
        ("train/td_loss", 200, math.inf),
        ("charts/episode_return", 200, -math.inf),
    ]
    summary = {"last_return": math.nan, "eval_return_mean": math.inf, "best_return": -math.inf}
    store.write_metrics(run_id, rows, 200, summary=summary)
    store.finish(run_id, "stopped")
    store.close()
    return run_id


def test_runs_ls_json_is_valid_with_nan_and_inf(cli, home: Path) -> None:
    nonfinite_run(home)
    result = cli("runs", "ls", "--json")
    assert result.exit_code == 0, result.output
    [run] = strict(result.stdout)
    assert run["summary"]["last_return"] is None
    assert run["summary"]["last_return_raw"] == "nan"
    assert run["summary"]["eval_return_mean_raw"] == "inf"
    assert run["summary"]["best_return_raw"] == "-inf"


def test_runs_show_json_is_valid_with_nan_and_inf(cli, home: Path) -> None:
    run_id = nonfinite_run(home)
    result = cli("runs", "show", str(run_id), "--json")
    assert result.exit_code == 0, result.output
    assert strict(result.stdout)["summary"]["eval_return_mean"] is None


def test_runs_export_json_is_valid_with_nan_and_inf(cli, home: Path) -> None:
    run_id = nonfinite_run(home)
    result = cli("runs", "export", str(run_id), "--format", "json", "--wide")
    assert result.exit_code == 0, result.output
    metrics = strict(result.stdout)["metrics"]
    by_step = {row["step"]: row for row in metrics}
    assert by_step[100]["train/td_loss"] is None  # SQLite keeps a NaN as NULL
    assert by_step[200]["train/td_loss"] is None
    assert by_step[200]["train/td_loss_raw"] == "inf"
    assert by_step[200]["charts/episode_return_raw"] == "-inf"


def test_study_show_json_is_valid_with_a_nan_attribute(cli, home: Path) -> None:
    store = Store(home)
    storage = open_storage(sqlite_url(store.path))
    create(storage, "s", study_spec())
    study, _ = load(storage, "s")
    trial = take_queued_trial(study)
    trial.suggest_float("discount", 0.9, 0.99)
    trial.set_user_attr("discount", math.nan)
    study.tell(trial, 1.0)
    store.close()
    for args in (("study", "show", "s", "--json"), ("study", "ls", "--json")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        strict(result.stdout)
    detail = strict(cli("study", "show", "s", "--json").stdout)
    assert detail["trials_detail"][0]["discount"] is None
    assert detail["trials_detail"][0]["discount_raw"] == "nan"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": math.nan}, {"a": None, "a_raw": "nan"}),
        ([math.inf, 1.0], [None, 1.0]),
        ({"x": [{"y": -math.inf}]}, {"x": [{"y": None, "y_raw": "-inf"}]}),
        ({"ok": 1.5, "n": None}, {"ok": 1.5, "n": None}),
    ],
)
def test_json_safe(value, expected) -> None:
    from workbench.format import json_safe, json_text

    assert json_safe(value) == expected
    strict(json_text(value))
