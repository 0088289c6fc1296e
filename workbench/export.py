"""Runs' metrics for other tools, shared by `workbench runs export` and the TUI: one run as
a wide table (a row per logged step, a column per key) in CSV or JSON; many runs in long
format (run, key, step, wall_time, value) as CSV, JSON or Parquet; or TensorBoard event
files, one sub-directory per run."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from envs.errors import UserError
from workbench.format import json_text
from workbench.records import RunRecord
from workbench.store import Store

LONG_COLUMNS = ("run", "key", "step", "wall_time", "value")
LONG_FORMATS = ("csv", "json", "parquet")
FORMATS = (*LONG_FORMATS, "tensorboard")
"""What `runs export --format` takes (the wide table: csv or json with ``--wide``)."""


def metric_table(store: Store, run_id: int) -> tuple[list[str], list[tuple[int, dict[str, float]]]]:
    """All of a run's metrics pivoted to (step, {key: value}) rows in step order."""
    by_step: dict[int, dict[str, float]] = {}
    for key, step, value in store.metrics(run_id):
        by_step.setdefault(step, {})[key] = value
    return store.metric_keys(run_id), sorted(by_step.items())


def metrics_csv(store: Store, run_id: int) -> tuple[str, int, int]:
    """The CSV text, its number of steps and of metric keys."""
    keys, rows = metric_table(store, run_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["step", *keys])
    for step, values in rows:
        writer.writerow([step, *("" if values.get(k) is None else repr(values[k]) for k in keys)])
    return buffer.getvalue(), len(rows), len(keys)


def metrics_json(store: Store, run_id: int, run: dict[str, Any]) -> tuple[str, int, int]:
    keys, rows = metric_table(store, run_id)
    text = json_text({"run": run, "metrics": [{"step": s, **v} for s, v in rows]})
    return text + "\n", len(rows), len(keys)


def write_table(folder, name: str, columns: list[str], rows: list[list[Any]]) -> tuple[str, str]:
    """A table (what a screen shows) as NAME.csv and NAME.json in ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / f"{name}.csv", folder / f"{name}.json"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    json_path.write_text(json_text(records) + "\n")
    return str(csv_path), str(json_path)


@dataclass(frozen=True)
class LongExport:
    """What an export of many runs wrote: its text (None when it went to files), the runs
    and rows it holds, and the files written."""

    text: str | None
    runs: int
    rows: int
    paths: tuple[str, ...] = ()


def long_rows(store: Store, runs: list[RunRecord]) -> Iterator[tuple]:
    """(run, key, step, wall_time, value) of every metric of ``runs``, run by run in step
    order; wall_time is None for a row logged before schema 8."""
    for run in runs:
        for key, step, wall_time, value in store.timed_metrics(run.id):
            yield run.id, key, step, wall_time, value


def export_long(
    store: Store,
    runs: list[RunRecord],
    format: str,
    path: Path | None,
    documents: list[dict[str, Any]] | None = None,
) -> LongExport:
    """The runs' metrics in long format to ``path`` (its folder created), or as text when
    ``path`` is None (not for parquet, which is binary). JSON puts ``documents`` (the
    runs' rows as ``runs show --json`` prints them) under "runs" beside the metrics."""
    rows = list(long_rows(store, runs))
    if format == "parquet":
        if path is None:
            raise UserError("parquet is binary: give a file with --output FILE.parquet")
        _write_parquet(rows, path)
        return LongExport(None, len(runs), len(rows), (str(path),))
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(LONG_COLUMNS)
        for row in rows:
            writer.writerow(
                ["" if v is None else repr(v) if isinstance(v, float) else v for v in row]
            )
        text = buffer.getvalue()
    else:
        metrics = [dict(zip(LONG_COLUMNS, row, strict=True)) for row in rows]
        text = json_text({"runs": documents or [], "metrics": metrics}) + "\n"
    if path is None:
        return LongExport(text, len(runs), len(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return LongExport(None, len(runs), len(rows), (str(path),))


def _write_parquet(rows: list[tuple], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(
            "parquet export needs pyarrow: pip install 'meta-rl-workbench[parquet]' "
            "(or use --format csv)"
        ) from None
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(LONG_COLUMNS)
    types = [pa.int64(), pa.string(), pa.int64(), pa.float64(), pa.float64()]
    table = pa.table(
        {
            name: pa.array(list(values), type=kind)
            for name, values, kind in zip(LONG_COLUMNS, columns, types, strict=True)
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def export_tensorboard(store: Store, runs: list[RunRecord], folder: Path) -> LongExport:
    """One sub-directory per run (``run-ID``, which TensorBoard lists as the run's name),
    each with one event file of every metric at its step and wall time. A row logged
    before wall times were recorded (schema 8) takes the run's start time; a value SQLite
    kept as NULL (a NaN or infinity) is written as NaN."""
    from workbench.tensorboard import write_events

    paths, total = [], 0
    for run in runs:
        start = run.started_at or run.created_at
        rows = store.timed_metrics(run.id)
        total += len(rows)
        steps = (
            (
                step,
                next(iter(group))[2] or start,
                [(k, math.nan if v is None else v) for k, _, _, v in group],
            )
            for step, group in ((s, list(g)) for s, g in groupby(rows, key=lambda r: r[1]))
        )
        first = next((r[2] for r in rows if r[2] is not None), start)
        paths.append(str(write_events(folder / f"run-{run.id}", steps, min(start, first))))
    return LongExport(None, len(runs), total, tuple(paths))
