"""`workbench report context`: every mode x seed trained (as populations) and stored, every
run on every split of its family, the same numbers as `eval --split`, and one-line
refusals of what it cannot do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TINY = ("--set", "learning_starts=200", "--set", "train_frequency=32", "--set",
        "gradient_steps=4", "--set", "eval_interval=500", "--set", "eval_episodes=2",
        "--set", "predictive_steps=300", "--set", "predictive_updates=20")  # fmt: skip
VARIED = ("--task-set", "resample=true", "--task-set", "varied=gravity,length")


def test_report_context_trains_each_mode_as_a_population_and_reads_it_back(cli, home) -> None:
    args = ("report", "context", "dqn", "cartpole", "--modes", "hidden,learned,predictive",
            "--seeds", "0-1", "--steps", "800", "--contexts", "6", *TINY, *VARIED)  # fmt: skip
    report = cli.json(*args)
    assert len(report["trained"]) == 6
    splits = ["train", "interpolation", "combinatorial", "extrapolation-single",
              "extrapolation-all"]  # fmt: skip
    assert [(c["mode"], c["split"]) for c in report["cells"]] == [
        (mode, split) for mode in ("hidden", "learned", "predictive") for split in splits
    ]
    runs = {run["id"]: run for run in cli.json("runs", "ls")}
    for cell in report["cells"]:
        assert [runs[r]["config"]["context"] for r in cell["runs"]] == [cell["mode"]] * 2
        assert cell["mean"] == pytest.approx(np.mean(cell["per_seed"]))
        assert 0.0 <= cell["solved"] <= 1.0
    assert len({runs[r]["population"] for r in report["cells"][5]["runs"]}) == 1
    learned = next(c for c in report["cells"] if c["mode"] == "learned")
    alone = cli.json("eval", str(learned["runs"][1]), "--split", "train", "--contexts", "6")
    assert alone["mean"] == pytest.approx(learned["per_seed"][1])
    again = cli.json(*args, "--no-train")
    assert again["trained"] == [] and again["cells"] == report["cells"]
    # A setting the mode does not read (a probe's, for hidden and learned) finds the same
    # runs; one it reads (learned's window) does not.
    unread = cli.json(*args[:5], "hidden,learned", *args[6:], "--set", "probe_entropy=0.5",
                      "--no-train")  # fmt: skip
    assert unread["cells"] == report["cells"][:10]
    read = cli(*args[:5], "learned", *args[6:], "--set", "context_window=5", "--no-train")
    assert read.exit_code == 2 and "no completed run of context=learned" in read.stderr


BAD = [
    (["report", "context", "dqn", "cartpole", "--modes", ""], "--modes is empty"),
    (
        ["report", "context", "dqn", "cartpole", "--modes", "hidden,psychic"],
        "'psychic' is not a context mode",
    ),  # fmt: skip
    (
        ["report", "context", "dqn", "foraging", "--modes", "hidden"],
        "task foraging has no context factors",
    ),  # fmt: skip
    (["report", "context", "ppo", "cartpole"], "agent ppo has no context modes"),
    (
        ["report", "context", "dqn", "cartpole", "--set", "context=learned"],
        "context is set by --modes",
    ),  # fmt: skip
    (["run", "dqn", "cartpole", "--set", "context=psychic"], "context='psychic' is not a mode"),
    (["run", "dqn", "chain", "--set", "context=explicit"], "needs a task with context factors"),
    (
        ["run", "dqn", "cartpole", "--set", "context=predictive", "--steps", "4000"],
        "predictive_steps=5000 leaves nothing",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(cli, home: Path, args, message) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert not (home / "workbench.db").exists() or cli.json("runs", "ls") == []


async def test_the_tui_shows_the_same_table_for_the_marked_runs(cli, home: Path) -> None:
    from textual.widgets import DataTable

    from tests.test_tui import until
    from workbench.store import Store
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.context_view import CONTEXTS, ContextView

    args = ("report", "context", "dqn", "cartpole", "--modes", "hidden,explicit", "--seeds",
            "0-1", "--steps", "600", "--contexts", str(CONTEXTS), *TINY, *VARIED)  # fmt: skip
    report = cli.json(*args)
    cli("run", "ppo", "cartpole", "--steps", "256", "--set", "rollout_steps=128")
    store = Store(home)
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 3)  # two populations and the ppo run
        await pilot.press("space", "space")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ContextView))
        await until(pilot, lambda: app.screen.report is not None, timeout=60)
        shown = app.screen.query_one(DataTable)
        assert shown.row_count == 2
        last = report["cells"][-1]
        assert (last["mode"], last["split"]) == ("explicit", "extrapolation-all")
        text = shown.get_cell_at((1, 5))  # the same cell: the same numbers as the CLI's
        assert text == f"{last['mean']:.2f} ± {last['ci95']:.2f} ({100 * last['solved']:.0f}%)"
        await pilot.press("escape")
        await pilot.press("space")  # the ppo run too: refused inline, no crash
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ContextView))
        await until(pilot, lambda: "differs from run" in str(
            app.screen.query_one("#context-message").render()), timeout=30)  # fmt: skip
    store.close()
