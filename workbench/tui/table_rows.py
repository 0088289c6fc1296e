"""The runs table's rows as text (and the hint shown instead of an empty table): a lone
run's cells, a group's row (a population or a study's lifetimes, see
``readers/groups.py``) and its members' rows indented under it when expanded, the sort
and filter, and which columns fit a terminal's width and how wide each is. No Textual
here: the runs screen puts these rows in its DataTable."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len

from workbench.format import fixed
from workbench.records import agent_label
from workbench.store import RunRecord
from workbench.tui.readers.groups import Group
from workbench.tui.readers.runs import RowCache
from workbench.tui.widgets.sparkline import sparkline


def workbench_command() -> str:
    """How to call the CLI from a shell here: bare if on PATH, else the venv's script."""
    if shutil.which("workbench"):
        return "workbench"
    script = Path(sys.executable).with_name("workbench")
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def empty_hint() -> str:
    command = workbench_command()
    return (
        "No runs yet. Press n to launch one here (a form with every setting), or start\n"
        "one from a shell and watch it here:\n"
        f"  {command} run dqn cartpole --steps 50000 --background\n"
        f"`{command} agents` and `{command} tasks` list what can be trained; ? shows the keys."
    )


COLUMNS = (
    "✓",
    "id",
    "name",
    "agent",
    "task",
    "seed",
    "status",
    "progress",
    "steps/s",
    "return",
    "best",
    "eval",
    "tags",
    "recent returns",
)
DROP_FIRST = ("tags", "name", "seed", "steps/s", "recent returns", "best")
"""Columns a narrow terminal hides, in this order: return and eval stay to the last."""
SORTS = ("id", "status", "agent", "task", "progress", "eval", "best")
"""Columns ``o`` cycles the sort through (id ascending, the others descending)."""
GROUP_PREFIX = "group:"
"""Row keys of group rows start with it; a run's row key is its id."""
NAME_WIDTH = 40
"""A longer name is cut short in the table (whole in the run view and in exports), so one
long name does not push the name column off every run's row."""


def run_cells(run: RunRecord, recent: list[float], marked: bool = False) -> tuple[str, ...]:
    """The table cells of one run, in COLUMNS order."""
    summary = run.summary
    percent = min(100.0, 100 * run.steps_done / run.total_steps)  # batches overshoot
    return (
        "✓" if marked else "",
        str(run.id),
        run.name,
        agent_label(run.agent),
        run.task,
        str(run.seed),
        run.shown_status(),
        f"{percent:5.1f}%",
        fixed(summary.get("steps_per_second"), 0),
        fixed(summary.get("last_return"), 1),
        fixed(summary.get("best_return"), 1),
        fixed(summary.get("eval_return_mean"), 1),
        " ".join(run.tags),
        sparkline(recent),
    )


def group_cells(group: Group, expanded: bool, marked: int) -> tuple[str, ...]:
    """A group's row: ▸ (collapsed) or ▾ (expanded) where a run's id is, its members done
    of all, mean progress, the running members' summed steps/s, the median last training
    return under return, the best member's evaluation under best and the median one under
    eval (the summaries' ``eval_return_mean``, as a run's row shows), and the median
    main-metric curve as the sparkline. ✓ when every member is marked, · when some are."""
    mark = "✓" if marked == group.total else "·" if marked else ""
    return (
        mark,
        "▾" if expanded else "▸",
        f"{group.name} ×{group.total}",
        group.agent,
        group.task,
        group.seeds,
        group.status,
        f"{100 * group.progress:5.1f}%",
        fixed(group.steps_per_second, 0),
        fixed(group.median_return, 1),
        fixed(group.best_eval, 1),
        fixed(group.median_eval, 1),
        "",
        sparkline(group.spark),
    )


def member_cells(cells: tuple[str, ...], last: bool) -> tuple[str, ...]:
    """A member's run cells indented under its group: a tree branch before its id."""
    index = COLUMNS.index("id")
    branch = "└ " if last else "├ "
    return (*cells[:index], branch + cells[index], *cells[index + 1 :])


def shortened(cells: tuple[str, ...]) -> tuple[str, ...]:
    """The cells with the name cut to NAME_WIDTH characters (the last one an ellipsis)."""
    index = COLUMNS.index("name")
    name = cells[index]
    if len(name) <= NAME_WIDTH:
        return cells
    return (*cells[:index], name[: NAME_WIDTH - 1] + "…", *cells[index + 1 :])


def fitting_columns(width: int, cells: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The columns that fit ``width``, hiding DROP_FIRST's in order until they do."""

    def column_width(index: int) -> int:
        return 2 + max([len(COLUMNS[index])] + [len(row[index]) for row in cells])

    shown = list(COLUMNS)
    tags = COLUMNS.index("tags")
    if not any(row[tags] for row in cells):  # nothing tagged: no empty column
        shown.remove("tags")
    need = sum(column_width(COLUMNS.index(name)) for name in shown) + 2  # the scrollbar
    for name in DROP_FIRST:
        if need <= width:
            break
        if name not in shown:
            continue
        shown.remove(name)
        need -= column_width(COLUMNS.index(name))
    return tuple(shown)


def column_widths(columns: tuple[str, ...], cells: list[tuple[str, ...]]) -> tuple[int, ...]:
    """Each shown column's width: its widest cell or its title, in terminal cells."""
    return tuple(
        max([cell_len(name)] + [cell_len(row[COLUMNS.index(name)]) for row in cells])
        for name in columns
    )


def sort_key(run: RunRecord, column: str):
    summary = run.summary
    return {
        "id": -run.id,
        "status": run.status,
        "agent": run.agent,
        "task": run.task,
        "progress": run.steps_done / run.total_steps,
        "eval": summary.get("eval_return_mean", float("-inf")),
        "best": summary.get("best_return", float("-inf")),
    }[column]


def group_sort_key(group: Group, column: str):
    """A group sorts among runs as its first member by id, as running while a member
    runs, by its mean progress, its median evaluation and its best member's."""
    return {
        "id": -min(group.members),
        "status": "running" if group.running else min(group.statuses),
        "agent": group.agent,
        "task": group.task,
        "progress": group.progress,
        "eval": float("-inf") if group.median_eval is None else group.median_eval,
        "best": float("-inf") if group.best_eval is None else group.best_eval,
    }[column]


def matches(run: RunRecord, pattern: str) -> bool:
    """Whether the filter keeps a run: its agent, task, name, status or one of its tags
    holds the (lower-case) pattern."""
    return not pattern or any(
        pattern in text.lower() for text in (run.agent, run.task, run.name, run.status, *run.tags)
    )


@dataclass
class Entry:
    """A top-level line of the table: a lone run, or a group with its members shown when
    expanded (those the filter keeps)."""

    run: RunRecord | None = None
    recent: list[float] | None = None
    group: Group | None = None
    members: list[tuple[RunRecord, list[float]]] | None = None


def entries(rows: RowCache, groups: dict[str, Group], pattern: str, sort: str) -> list[Entry]:
    """Lone runs and groups in the sort's order, each group's members in the same order;
    a group shows when its name or one of its members matches the filter."""
    pattern = pattern.strip().lower()
    descending = sort != "status"
    grouped = {run_id for group in groups.values() for run_id in group.members}
    result = [
        Entry(run=run, recent=recent)
        for _, run, recent in rows.values()
        if run.id not in grouped and matches(run, pattern)
    ]
    for group in groups.values():
        members = [(rows[i][1], rows[i][2]) for i in group.members if i in rows]
        if pattern not in group.name.lower():
            members = [(run, recent) for run, recent in members if matches(run, pattern)]
            if not members:
                continue
        members.sort(key=lambda item: sort_key(item[0], sort), reverse=descending)
        result.append(Entry(group=group, members=members))

    def key(entry: Entry):
        if entry.group is not None:
            return group_sort_key(entry.group, sort)
        return sort_key(entry.run, sort)

    result.sort(key=key, reverse=descending)
    if sort in ("agent", "task"):
        result.reverse()
        for entry in result:
            if entry.members:
                entry.members.reverse()
    return result
