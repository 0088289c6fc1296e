"""A home holding runs and studies whose names are Rich markup or very long: what the
markup tests read (studies named so come from before names had a pattern, so they are
written through Optuna directly, as an older workbench did)."""

from __future__ import annotations

from pathlib import Path

from studies.storage import open_storage, sqlite_url
from studies.study import create
from tests.test_tui_snapshots import cartpole_grid_spec as study_spec
from workbench.store import Store

LONG = "n" * 9_990 + "[/]end[b]"  # 9,999 characters, markup at its end
NAMES = ["[/red] x", "[bold]", LONG]


def named_run(store: Store, name: str, returns: list[float]) -> int:
    run_id = store.create_run(
        agent="dqn",
        task="cartpole",
        config={},
        task_params={},
        seed=0,
        total_steps=100 * len(returns),
        name=name,
    )
    store.claim(run_id, pid=1)
    rows = [("charts/episode_return", 100 * (i + 1), r) for i, r in enumerate(returns)]
    store.write_metrics(run_id, rows, 100 * len(returns), summary={"last_return": returns[-1]})
    store.finish(run_id, "failed", error=f"boom [/red] in {name[:20]}")
    return run_id


def marked_up_home(home: Path, studies: bool = True) -> dict[str, int]:
    """Runs (and studies) named each of NAMES; the run id of each name."""
    store = Store(home)
    ids = {name: named_run(store, name, [1.0, 2.0, 3.0]) for name in NAMES}
    if studies:
        storage = open_storage(sqlite_url(store.path))
        for name in NAMES:
            create(storage, name, study_spec())
    store.close()
    return ids
