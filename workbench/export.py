"""A run's metrics as one table (a row per logged step, a column per key), in CSV or
JSON: shared by `workbench runs export` and the TUI's export."""

from __future__ import annotations

import csv
import io
from typing import Any

from workbench.format import json_text
from workbench.store import Store


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
