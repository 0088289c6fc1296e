"""`workbench runs export`: many runs in long format (csv, json, parquet) and TensorBoard
event files that TensorBoard's own reader reads back with every step, value and wall
time; bad input as one line."""

from __future__ import annotations

import csv
import io
import json
import math
import zlib
from pathlib import Path

import pytest

from workbench import tensorboard
from workbench.store import Store


def two_runs(store: Store) -> list[int]:
    """Two runs with metrics at known steps, values and wall times (one NaN, one row with
    no wall time, as a row logged before schema 8 has)."""
    ids = []
    for seed in (0, 1):
        run_id = store.create_run(
            agent="dqn", task="cartpole", config={}, task_params={}, seed=seed, total_steps=300
        )
        store.claim(run_id, pid=1)
        rows = [
            ("charts/episode_return", 100, 1.5 + seed, 1_700_000_000.25),
            ("train/td_loss", 100, 0.5, 1_700_000_000.25),
            ("charts/episode_return", 250, 2.5 + seed, 1_700_000_060.5),
            ("train/td_loss", 300, math.nan, 1_700_000_090.0),
        ]
        store.write_metrics(run_id, rows, 300)
        ids.append(run_id)
    store.sql.execute("UPDATE metrics SET wall_time = NULL WHERE run_id = 2 AND step = 300")
    for run_id in ids:
        store.finish(run_id, "completed")
    return ids


def test_crc32c_matches_the_published_check_value() -> None:
    assert tensorboard.crc32c(b"123456789") == 0xE3069283  # RFC 3720's CRC-32C check
    assert tensorboard.crc32c(b"123456789") != zlib.crc32(b"123456789")


def test_tensorboard_reads_back_every_step_value_and_wall_time(cli, store: Store, tmp_path):
    from tensorboard.backend.event_processing import event_accumulator  # the dev extra

    ids = two_runs(store)
    out = tmp_path / "tb"
    result = cli("runs", "export", *map(str, ids), "--format", "tensorboard", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 8 metric rows of 2 run(s)" in result.stdout
    for run_id in ids:
        folder = out / f"run-{run_id}"
        accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
        accumulator.Reload()
        assert sorted(accumulator.Tags()["scalars"]) == ["charts/episode_return", "train/td_loss"]
        stored = store.timed_metrics(run_id)
        for key in ("charts/episode_return", "train/td_loss"):
            read = [(e.step, e.wall_time, e.value) for e in accumulator.Scalars(key)]
            expected = [(s, w, v) for k, s, w, v in stored if k == key]
            assert [s for s, _, _ in read] == [s for s, _, _ in expected]
            for (_, wall, value), (_, want_wall, want) in zip(read, expected, strict=True):
                if want is None:  # SQLite keeps a NaN as NULL; so does the export
                    assert math.isnan(value)
                else:
                    assert value == pytest.approx(want, rel=1e-6)  # float32 in the file
                run = store.get_run(run_id)
                assert wall == (want_wall if want_wall is not None else run.started_at)


def test_long_csv_and_json_hold_every_row_of_every_run(cli, store: Store) -> None:
    ids = two_runs(store)
    text = cli("runs", "export", *map(str, ids), "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["run", "key", "step", "wall_time", "value"]
    assert len(rows) == 8
    assert rows[0] == {
        "run": "1",
        "key": "charts/episode_return",
        "step": "100",
        "wall_time": "1700000000.25",
        "value": "1.5",
    }
    late = [r for r in rows if r["run"] == "2" and r["step"] == "300"]
    assert late[0]["wall_time"] == "" and late[0]["value"] == ""
    document = json.loads(cli("runs", "export", *map(str, ids), "--format", "json").stdout)
    assert [run["id"] for run in document["runs"]] == ids
    assert len(document["metrics"]) == 8
    assert document["metrics"][-2] == {
        "run": 2,
        "key": "charts/episode_return",
        "step": 250,
        "wall_time": 1_700_000_060.5,
        "value": 3.5,
    }


def test_parquet_holds_the_long_table(cli, store: Store, tmp_path: Path) -> None:
    import pyarrow.parquet as parquet  # the dev extra

    ids = two_runs(store)
    path = tmp_path / "out" / "runs.parquet"
    result = cli("runs", "export", *map(str, ids), "--format", "parquet", "-o", str(path))
    assert result.exit_code == 0, result.output
    table = parquet.read_table(path)
    assert table.column_names == ["run", "key", "step", "wall_time", "value"]
    assert table.num_rows == 8
    assert table.column("run").to_pylist() == [1] * 4 + [2] * 4
    assert table.column("value").to_pylist()[:3] == [1.5, 0.5, 2.5]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--format", "hdf5"], "--format must be one of csv, json, parquet, tensorboard"),
        (["--format", "tensorboard"], "tensorboard writes a folder: give it with --output DIR"),
        (["--format", "parquet"], "parquet is binary: give a file with --output"),
        (["--format", "xml", "--wide"], "--format must be one of csv, json, got 'xml'"),
    ],
)
def test_bad_export_options_get_one_line_and_exit_2(cli, store, args, said) -> None:
    two_runs(store)
    result = cli("runs", "export", "1", "2", *args)
    assert result.exit_code == 2, result.output
    assert said in result.output and len(result.output.strip().splitlines()) == 1


def test_an_unknown_run_is_named(cli, store: Store) -> None:
    two_runs(store)
    result = cli("runs", "export", "1", "7", "--format", "csv")
    assert result.exit_code == 2 and "no run 7" in result.output


def test_parquet_without_pyarrow_says_what_to_install(cli, store, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    two_runs(store)
    result = cli("runs", "export", "1", "--format", "parquet", "-o", str(tmp_path / "x.parquet"))
    assert result.exit_code == 2
    assert "pip install 'meta-rl-workbench[parquet]'" in result.output
