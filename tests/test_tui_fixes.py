"""The TUI's fixes of issue 11, each a test that fails on the code before it: what a new
user tripped over, the group view's export before its first read, the study view's live
curves of meta-RL agents, and a study storage that goes down while its view is open."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label, Select, Static, Switch
from textual.widgets._footer import FooterKey

from studies.bulk import Counts
from studies.catalog import StudySummary
from studies.storage import open_storage, shared_storage, sqlite_url
from studies.study import StudySpec, create, load
from studies.worker import take_queued_trial
from workbench.service import study_processes
from workbench.service.figures import GroupFigure
from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.readers.studies import done, summary_row
from workbench.tui.screens.compare import CompareView
from workbench.tui.screens.create_study import CreateStudyScreen
from workbench.tui.screens.group_view import GroupView
from workbench.tui.screens.launch import LaunchScreen
from workbench.tui.screens.run_view import RunView
from workbench.tui.screens.studies import StudiesScreen
from workbench.tui.screens.study_view import StudyView
from workbench.tui.widgets.confirm import ConfirmationModal
from workbench.tui.widgets.metric_picker import MetricPicker
from workbench.tui.widgets.metric_plot import integer_ticks

from .test_tui import completed_run, until


def home_url(home: Path) -> str:
    """The home's own study storage (Optuna's tables in the workbench's file)."""
    return sqlite_url(Store(home).path)


def text(widget) -> str:
    return str(widget.render())


def message(app) -> str:
    return text(app.screen.query_one("MessageLine"))


def study_spec(agent: str = "a2c", task: str = "cartpole", trials: int = 4) -> StudySpec:
    return StudySpec.from_cli(
        agent=agent,
        task=task,
        method="random",
        trials=trials,
        steps=1000,
        params=["discount=0.9:0.99"],
        fixed={},
        task_params={},
        group="demo",
        pruner="none",
        sampler="tpe",
        seed=0,
    )


# --- what a new user tripped over -----------------------------------------------------------


async def test_empty_runs_screen_says_n_launches(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one("#hint").display)
        assert "Press n to launch one here" in text(app.screen.query_one("#hint", Static))


def footer_regions(app) -> dict:
    """Each footer key and where it is drawn (the footer recomposes when the focus moves,
    so it is queried afresh each time)."""
    return {key.key: key.region for key in app.screen.query(FooterKey)}


async def footer_settled(pilot, keys: set[str]) -> dict:
    """The footer once ``keys`` are in it and laid out (a cut-off key has no width, or
    ends past the screen's edge)."""

    def laid_out() -> bool:
        regions = footer_regions(pilot.app)
        return keys <= set(regions) and all(regions[k].width > 0 for k in keys)

    try:
        await until(pilot, laid_out, 10)
    except AssertionError:
        pass  # the asserts below say which key is missing or cut off
    return footer_regions(pilot.app)


async def test_footer_at_120_columns_shows_studies_keys_and_quit(home: Path) -> None:
    completed_run(Store(home), [1.0])
    app = WorkbenchApp(Store(home), refresh_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        wanted = {"S", "question_mark", "q", "n", "space"}
        regions = await footer_settled(pilot, wanted)
        for key in wanted:
            assert key in regions, f"{key} is not in the footer"
            region = regions[key]
            assert region.width > 0 and region.right <= 120, f"{key} is cut off: {region}"
        space = next(k for k in app.screen.query(FooterKey) if k.key == "space")
        assert "↓" in space.description  # space marks and moves down: say so
        await pilot.press("enter")  # the run view's keys fit too
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.run)
        regions = await footer_settled(pilot, {"s", "r", "q", "question_mark"})
        assert {"s", "r", "q", "question_mark"} <= set(regions)
        assert all(0 < region.right <= 120 for region in regions.values()), regions


async def test_runs_table_at_80_columns_keeps_return_and_eval(home: Path) -> None:
    store = Store(home)
    completed_run(store, [10.0, 20.0])
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        table = app.screen.query_one(DataTable)
        columns = [column.key.value for column in table.columns.values()]
        assert {"status", "progress", "return", "eval"} <= set(columns)
        assert "name" not in columns  # a less important column made room
        width = sum(column.get_render_width(table) for column in table.columns.values())
        assert width <= 80 - 2, f"the columns need {width} of 80 cells"
        await pilot.resize_terminal(160, 40)  # wider again: every column back
        await until(pilot, lambda: "name" in [c.key.value for c in table.columns.values()])
        assert table.get_row("1")[9] == "20.0"


async def test_escape_leaves_the_runs_filter(home: Path) -> None:
    store = Store(home)
    completed_run(store, [1.0])
    app = WorkbenchApp(store, refresh_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("slash", "d", "q")
        box = app.screen.query_one("#runs-filter", Input)
        assert box.value == "dq"
        await pilot.press("escape")
        assert app.screen.focused is app.screen.query_one(DataTable)
        await pilot.press("o")  # a key acts on the runs again instead of being typed
        assert box.value == "dq"
        assert "sorted by status" in message(app)
        await pilot.press("slash", "backspace", "backspace", "escape")
        assert not box.display  # an empty filter goes away


async def test_palette_has_every_screens_actions(home: Path) -> None:
    store = Store(home)
    first = completed_run(store, [1.0, 2.0, 3.0])
    completed_run(store, [2.0, 3.0, 4.0])
    app = WorkbenchApp(store, refresh_seconds=0.2)

    def titles() -> dict:
        return {c.title: c for c in app.get_system_commands(app.screen)}

    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        assert {"run: new run", "run: delete", "run: export csv", "run: sort"} <= set(titles())
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.series)
        run_view = titles()
        assert {"run: stop", "run: resume", "run: next metric", "run: pick metric"} <= set(run_view)
        assert {"run: clone", "run: smoothing", "run: config"} <= set(run_view)
        await pilot.press("escape")
        app.open_compare([first, first + 1])
        await until(pilot, lambda: isinstance(app.screen, CompareView) and app.screen.series)
        compare = titles()
        assert {"compare: group runs", "compare: next metric"} <= set(compare)
        compare["compare: group runs"].callback()  # the palette entry does what g does
        await until(pilot, lambda: app.screen.grouped)
        await pilot.press("escape")
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
        assert {"study: create", "study: run/resume", "study: stop", "study: group table"} <= set(
            titles()
        )


async def test_run_view_shows_the_effective_config(home: Path) -> None:
    store = Store(home)
    completed_run(store, [1.0, 2.0])
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.run)
        header = text(app.screen.query_one("#run-header"))
        assert "config {}" not in header
        assert "defaults of all" in header
        await pilot.press("i")
        header = text(app.screen.query_one("#run-header"))
        assert "learning_rate=" in header and "discount=0.99" in header


def test_integer_ticks_on_counting_axes() -> None:
    for low, high in ((0, 25027), (100, 900), (0, 3), (12000, 13027), (0, 0.5)):
        ticks = integer_ticks(low, high)
        assert ticks and all(isinstance(t, int) for t in ticks)
        assert low - 1 <= ticks[0] and ticks[-1] <= high + 1
    assert integer_ticks(0, 3) == [0, 1, 2, 3]  # trials: never 0.25


async def test_run_view_axis_ticks_are_whole_numbers(home: Path) -> None:
    store = Store(home)
    completed_run(store, [1.0, 2.0, 3.0])  # steps 100, 200, 300
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.series)
        await pilot.pause(0.2)
        plot = app.screen.query_one("#curve")
        ticks = plot.plt.monitor.xticks[0]  # the ticks plotext was given
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


async def test_metric_picker_beside_m(home: Path) -> None:
    store = Store(home)
    run_id = completed_run(store, [1.0, 2.0, 3.0])
    store.write_metrics(run_id, [("train/td_loss", 100, 0.5), ("train/td_loss", 200, 0.25)], 300)
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunView) and app.screen.keys)
        assert app.screen.metric == "charts/episode_return"
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, MetricPicker))
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunView))
        assert app.screen.metric == "train/td_loss"
        await until(pilot, lambda: app.screen.series.get("train/td_loss"))
        assert app.screen.series["train/td_loss"] == ([100, 200], [0.5, 0.25])


async def test_launch_form_shows_focused_help_and_switch_states(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await until(pilot, lambda: app.screen.query("#agent-form Input"))
        rate = next(w for w in app.screen.query(Input) if w.name == "learning_rate")
        rate.focus()
        await pilot.pause(0.1)
        assert "learning_rate (float, default" in text(app.screen.query_one("#field-help"))
        switch = next(w for w in app.screen.query(Switch) if w.name == "double_dqn")
        state = next(w for w in app.screen.query(".switch-state") if w.name == "double_dqn")
        assert isinstance(state, Label) and text(state) == ("on" if switch.value else "off")
        before = switch.value
        switch.toggle()
        await pilot.pause(0.1)
        assert text(state) == ("off" if before else "on")


async def test_create_study_task_is_a_list_of_the_agents_tasks(home: Path) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CreateStudyScreen))
        task = app.screen.query_one("#study-task", Select)
        assert task.value == "cartpole"
        app.screen.query_one("#study-params", Input).focus()
        await pilot.pause(0.1)
        assert "name=low:high[:log]" in text(app.screen.query_one("#field-help"))
        app.screen.query_one("#study-agent", Select).value = "rl2"
        await pilot.pause(0.2)
        from agents.registry import AGENTS

        assert task.value in AGENTS["rl2"].tasks
        assert [value for _, value in task._options if value is not Select.BLANK] == list(
            AGENTS["rl2"].tasks
        )


def test_study_progress_never_passes_its_trials() -> None:
    # a retried trial counted twice: 5 done of a study of 4
    summary = StudySummary(
        name="s",
        url="x",
        storage="x",
        state="done",
        spec=study_spec(trials=4),
        counts=Counts(complete=5, failed=1),
        best_value=1.0,
        best_discount=0.9,
    )
    row = summary_row(summary)
    assert row.cells[5] == "4/4" and done(summary) == 4
    assert row.state == "done"


async def test_a_study_never_run_says_not_started(home: Path) -> None:
    Store(home)
    create(open_storage(home_url(home)), "fresh", study_spec())
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        row = app.screen.query_one(DataTable).get_row_at(0)
        assert row[-1] == "not started" and row[5] == "0/4"


async def test_messages_name_the_files_written(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(home)
    first = completed_run(store, [1.0])
    second = completed_run(store, [2.0])
    started = []

    class NoProcess:  # `study run` is started by the service: record it, start nothing
        pid = 0

        def __init__(self, *args, **kwargs) -> None:
            started.append(args)

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(study_processes.subprocess, "Popen", NoProcess)
    create(open_storage(home_url(home)), "s1", study_spec())
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        await pilot.press("space", "space", "x")
        await until(pilot, lambda: "exported" in message(app))
        folder = home / "exports"
        assert message(app) == (
            f"exported 2 run(s) to {folder / f'run-{first}.csv'}, run-{second}.csv"
        )
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, StudiesScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("u")
        await until(pilot, lambda: "running study" in message(app))
        assert f"(log: {home / 'logs' / 'study-s1.log'})" in message(app)
        assert "*" not in message(app) and len(started) == 1


async def test_delete_asks_in_a_dialog_and_no_keeps_the_runs(home: Path) -> None:
    store = Store(home)
    completed_run(store, [1.0])
    app = WorkbenchApp(store, refresh_seconds=0.2)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmationModal))
        await pilot.pause(0.3)
        assert len(store.list_runs()) == 1
        await pilot.press("d", "y")
        await until(pilot, lambda: store.list_runs() == [])
        await until(pilot, lambda: "deleted 1 run(s)" in message(app))


# --- bugs ------------------------------------------------------------------------------------


async def test_group_view_export_before_its_first_read(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def slow_read(home, group, lifetimes):
        release.wait(30)
        return GroupFigure(group, lifetimes, [])

    monkeypatch.setattr("workbench.tui.screens.group_view.read_group", slow_read)
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.2)
            app.open_group("demo")
            await until(pilot, lambda: isinstance(app.screen, GroupView))
            await pilot.press("x")  # the first read has not returned
            assert "nothing to export yet" in message(app)
            assert app.is_running
            release.set()
    finally:
        release.set()


def running_meta_trial(home: Path) -> tuple[str, int]:
    """A study of rl2 (whose main metric is eval/meta_episode_return) with one trial
    running: its run has logged two evaluations."""
    store = Store(home)
    url = home_url(home)
    create(open_storage(url), "meta", study_spec("rl2", "bandit", trials=2))
    study, _ = load(open_storage(url), "meta")
    trial = take_queued_trial(study)
    trial.suggest_float("discount", 0.9, 0.99)
    run_id = store.create_run(
        agent="rl2",
        task="bandit",
        config={},
        task_params={},
        seed=0,
        total_steps=1000,
        study="meta",
        trial=trial.number,
    )
    store.claim(run_id, pid=1)
    rows = [("eval/meta_episode_return", 100, 3.0), ("eval/meta_episode_return", 200, 4.0)]
    store.write_metrics(run_id, rows, 200)
    trial.set_user_attr("run_id", run_id)
    return url, trial.number


async def test_study_view_live_curves_use_the_agents_main_metric(home: Path) -> None:
    url, number = running_meta_trial(home)
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        app.open_study("meta", url)
        await until(pilot, lambda: isinstance(app.screen, StudyView) and app.screen.data)
        data = app.screen.data
        assert data.metric == "eval/meta_episode_return"
        assert (data.live[number].steps, data.live[number].values) == ([100, 200], [3.0, 4.0])


async def test_a_study_storage_that_goes_down_shows_inline(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.db"
    url = f"sqlite:///{path}"
    create(open_storage(url), "far", study_spec())
    app = WorkbenchApp(Store(home), refresh_seconds=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        app.open_study("far", url)
        await until(pilot, lambda: isinstance(app.screen, StudyView) and app.screen.data)
        assert app.screen.query_one(DataTable).row_count == 4
        # The database goes away and the open connections with it (as when a server
        # restarts): the next read fails, and the one after finds no study there.
        for file in tmp_path.glob("elsewhere.db*"):
            file.unlink()
        shared_storage(url).engine.dispose()
        line = app.screen.query_one("MessageLine")
        await until(pilot, lambda: line.has_class("failure"), 30)
        said = text(line)
        reasons = ("refresh study failed", "cannot read storage", "no study named 'far'")
        assert any(reason in said for reason in reasons), said
        assert "Traceback" not in said and "\n" not in said
        assert app.is_running and isinstance(app.screen, StudyView)


# --- structure -------------------------------------------------------------------------------


def imported_modules(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


TUI = Path(__file__).resolve().parents[1] / "workbench" / "tui"


@pytest.mark.parametrize("path", sorted((TUI / "screens").glob("*.py")), ids=lambda p: p.name)
def test_no_screen_imports_another_screen(path: Path) -> None:
    screens = {m for m in imported_modules(path) if m.startswith("workbench.tui.screens")}
    assert not screens, f"{path.name} imports {sorted(screens)}: open screens through the app"


@pytest.mark.parametrize(
    "path",
    [*sorted((TUI / "readers").glob("*.py")), TUI / "actions.py"],
    ids=lambda p: p.name,
)
def test_readers_and_actions_know_no_textual(path: Path) -> None:
    textual = {m for m in imported_modules(path) if m.split(".")[0] == "textual"}
    assert not textual, f"{path.name} imports {sorted(textual)}"


@pytest.mark.parametrize("path", sorted(TUI.rglob("*.py")), ids=lambda p: p.name)
def test_no_tui_module_runs_sql_reads_optuna_or_spawns(path: Path) -> None:
    text = path.read_text()
    assert "subprocess" not in text, f"{path.name}: processes start in the service layer"
    assert ".execute(" not in text and "optuna" not in text, f"{path.name}: read via a service"
    assert len(text.splitlines()) <= 400, f"{path.name} is over 400 lines"
