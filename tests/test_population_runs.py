"""Populations as runs: the executor on a scripted population (each member its own run,
stopping one member, resuming groups at different steps, a failing population), and the
CLI's `run --seeds/--vary` with a real DQN population (foreground table, background ids,
every bad input refused in one line with nothing stored)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents import registry
from agents.common.population import PopulationReport
from tests.conftest import wait_for
from tests.faults.conftest import assert_one_line_refusal, nothing_stored
from tests.test_cli import TINY
from workbench.population_runner import execute_population
from workbench.store import Store, StoreUnusable


class ScriptedPopulation:
    """A population whose reports depend only on each member's seed, discount and step, so
    a member's metrics are the same however it is interrupted; 10 steps per iteration,
    an evaluation every 50."""

    def __init__(self, configs, task, task_params, seeds: Sequence[int], device="cpu"):
        self.configs, self.seeds, self.device = list(configs), list(seeds), device
        self.steps_done = 0
        self.fail_at: int | None = None
        self.error: BaseException = RuntimeError("diverged")

    def learn(self, total_steps: int, *, tick_seconds=None) -> Iterator[PopulationReport]:
        while self.steps_done < total_steps:
            self.steps_done += 10
            step = self.steps_done
            if step == self.fail_at:
                raise self.error
            yield PopulationReport(step, [], tick=True)
            yield PopulationReport(step, [self.scalars(m, step) for m in range(len(self.seeds))])

    def scalars(self, member: int, step: int) -> dict[str, float]:
        value = self.seeds[member] + self.configs[member].discount + step / 1000
        scalars = {"charts/episode_return": value}
        if step % 50 == 0:
            scalars["eval/episode_return"] = value
        return scalars

    def evaluate(self, episodes: int) -> np.ndarray:
        return np.zeros((len(self.seeds), episodes))

    def member_state(self, member: int) -> dict[str, Any]:
        return {"steps_done": self.steps_done, "seed": torch.tensor(self.seeds[member])}

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        assert int(state["seed"]) == self.seeds[member]
        self.steps_done = state["steps_done"]

    def member_weights(self, member: int) -> dict[str, Any]:
        return {"at": torch.tensor(self.steps_done)}

    def load_member_weights(self, member: int, state: dict[str, Any]) -> None:
        pass


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    """dqn's population is the scripted one (the executor reads the registry)."""
    spec = dataclasses.replace(registry.AGENTS["dqn"], population=ScriptedPopulation)
    monkeypatch.setitem(registry.AGENTS, "dqn", spec)


def queue(store: Store, seeds: Sequence[int], steps: int = 200, **config: Any) -> list[int]:
    member = {"agent": "dqn", "task": "cartpole", "task_params": {}, "total_steps": steps}
    return store.create_population(
        [member | {"seed": seed, "config": {"discount": 0.9} | config} for seed in seeds]
    )


def rows(store: Store, run_id: int) -> list[tuple[str, int, float]]:
    return store.metrics(run_id)


def expected(seed: int, steps: int, discount: float = 0.9) -> list[tuple[str, int, float]]:
    out = []
    for step in range(10, steps + 1, 10):
        value = seed + discount + step / 1000
        out.append(("charts/episode_return", step, value))
        if step % 50 == 0:
            out.append(("eval/episode_return", step, value))
    return sorted(out, key=lambda row: (row[1], row[0]))


def test_every_member_is_its_own_run_with_its_own_metrics(store: Store, scripted) -> None:
    ids = queue(store, [0, 1, 2])
    runs = execute_population(store, ids)
    assert [run.status for run in runs] == ["completed"] * 3
    assert {run.population for run in runs} == {ids[0]}
    assert store.population_runs(ids[0]) == store.get_runs(ids)
    for run, seed in zip(runs, [0, 1, 2], strict=True):
        assert rows(store, run.id) == pytest.approx(expected(seed, 200))
        assert run.checkpoint_step == run.steps_done == 200
        assert Path(run.checkpoint_path).name == f"run-{run.id}-step-200.pt"
        assert run.summary["eval_return_mean"] == pytest.approx(seed + 0.9 + 0.2)
        assert run.best_checkpoint_step == 200
        assert f"member {seed + 1} of 3" in store.log_path(run.id).read_text()


def test_stopping_one_member_checkpoints_it_and_the_others_go_on(store: Store, scripted) -> None:
    ids = queue(store, [0, 1, 2])
    progress: list[tuple[int, int]] = []

    def on_progress(run_id: int, p) -> None:
        progress.append((run_id, p.step))

    runs = execute_population(
        store, ids, on_progress=on_progress, member_stop=lambda run_id: run_id == ids[1]
    )
    assert [run.status for run in runs] == ["completed", "stopped", "completed"]
    assert runs[1].checkpoint_step == runs[1].steps_done == 10
    assert int(torch.load(runs[1].checkpoint_path)["seed"]) == 1
    assert rows(store, ids[1]) == pytest.approx(expected(1, 10))
    assert rows(store, ids[2]) == pytest.approx(expected(2, 200))
    assert max(step for run_id, step in progress if run_id == ids[1]) == 10
    assert "goes on at step 10" in store.log_path(ids[0]).read_text()


def test_the_stop_flag_of_one_member_stops_it_alone(store: Store, scripted) -> None:
    ids = queue(store, [0, 1], steps=100_000)

    def on_progress(run_id: int, p) -> None:
        if p.step == 100 and run_id == ids[0]:
            store.request_stop(ids[0])
        first = store.get_run(ids[0])
        if run_id == ids[1] and first.status == "stopped" and p.step > first.steps_done + 100:
            store.request_stop(ids[1])  # it went on after the first member stopped

    runs = execute_population(store, ids, on_progress=on_progress)
    assert [run.status for run in runs] == ["stopped", "stopped"]
    assert 100 <= runs[0].checkpoint_step < runs[1].checkpoint_step < 100_000
    assert runs[0].checkpoint_step == runs[0].steps_done
    assert rows(store, ids[1]) == pytest.approx(expected(1, runs[1].steps_done))


def test_the_stop_event_stops_every_member_with_a_checkpoint(store: Store, scripted) -> None:
    ids = queue(store, [0, 1], steps=100_000)
    stop_event = threading.Event()

    def on_progress(run_id: int, p) -> None:
        if p.step == 300:
            stop_event.set()

    runs = execute_population(store, ids, on_progress=on_progress, stop_event=stop_event)
    assert [(run.status, run.checkpoint_step) for run in runs] == [("stopped", 300)] * 2


def test_resume_groups_members_by_checkpoint_step_and_repeats_no_metric(
    store: Store, scripted
) -> None:
    ids = queue(store, [0, 1, 2], steps=300)
    stops = {ids[0]: 50, ids[1]: 120, ids[2]: 120}
    reached: dict[int, int] = {}

    def on_progress(run_id: int, p) -> None:
        reached[run_id] = p.step

    execute_population(
        store, ids, on_progress=on_progress, member_stop=lambda i: reached[i] >= stops[i]
    )
    assert [store.get_run(i).checkpoint_step for i in ids] == [50, 120, 120]
    for run_id in ids:
        store.requeue(run_id)
    runs = execute_population(store, ids)
    assert [run.status for run in runs] == ["completed"] * 3
    for run, seed in zip(runs, [0, 1, 2], strict=True):
        assert rows(store, run.id) == pytest.approx(expected(seed, 300))
        assert "resumed from checkpoint at step" in store.log_path(run.id).read_text()


def test_a_member_that_raises_fails_the_whole_population(store: Store, monkeypatch) -> None:
    class Failing(ScriptedPopulation):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.fail_at = 60

    spec = dataclasses.replace(registry.AGENTS["dqn"], population=Failing)
    monkeypatch.setitem(registry.AGENTS, "dqn", spec)
    ids = queue(store, [0, 1])
    runs = execute_population(store, ids)
    assert [(run.status, run.error) for run in runs] == [("failed", "RuntimeError: diverged")] * 2
    assert [step for _, step, _ in rows(store, ids[1])][-1] == 50


def test_a_forced_interrupt_stops_every_member_without_a_new_checkpoint(
    store: Store, monkeypatch
) -> None:
    class Interrupted(ScriptedPopulation):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.fail_at, self.error = 60, KeyboardInterrupt()

    spec = dataclasses.replace(registry.AGENTS["dqn"], population=Interrupted)
    monkeypatch.setitem(registry.AGENTS, "dqn", spec)
    ids = queue(store, [0, 1])
    runs = execute_population(store, ids)
    assert [(r.status, r.checkpoint_step, r.steps_done) for r in runs] == [("stopped", 0, 50)] * 2
    assert "resumes from step 0" in store.log_path(ids[1]).read_text()


def test_a_full_disk_fails_every_member_with_one_line_naming_the_file(
    store: Store, scripted, monkeypatch
) -> None:
    from workbench import checkpoints

    def full(store, run_id, state, step):
        raise OSError(errno.ENOSPC, "No space left on device", f"run-{run_id}.partial")

    monkeypatch.setattr(checkpoints, "save_state", full)
    ids = queue(store, [0, 1])
    with pytest.raises(StoreUnusable) as raised:
        execute_population(store, ids)
    assert "free space" in str(raised.value)
    runs = store.get_runs(ids)
    assert [run.status for run in runs] == ["failed", "failed"]
    assert all("No space left" in run.error and "runs resume" in run.error for run in runs)


def test_a_damaged_member_checkpoint_fails_that_member_alone(store: Store, scripted) -> None:
    ids = queue(store, [0, 1], steps=100)
    execute_population(store, ids, member_stop=lambda run_id: True)
    damaged = store.get_run(ids[0])
    Path(damaged.checkpoint_path).write_bytes(b"not a checkpoint")
    for run_id in ids:
        store.sql.execute("UPDATE runs SET status = 'queued' WHERE id = :id", {"id": run_id})
    runs = execute_population(store, ids)
    assert runs[0].status == "failed" and damaged.checkpoint_path in runs[0].error
    assert runs[1].status == "completed"


# --- the CLI, with real DQN populations --------------------------------------------------


def test_a_foreground_population_gives_one_run_per_member_and_a_json_table(cli, home: Path) -> None:
    result = cli(
        "run", "dqn", "cartpole", *TINY, "--seeds", "0,5", "--vary", "discount=0.9,0.95", "--json"
    )
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert [(row["seed"], row["discount"]) for row in table] == [
        (0, 0.9),
        (5, 0.9),
        (0, 0.95),
        (5, 0.95),
    ]
    assert {row["status"] for row in table} == {"completed"}
    assert all(row["eval_return_mean"] > 0 and row["eval_return_std"] >= 0 for row in table)
    assert set(table[0]) == {
        "id",
        "seed",
        "discount",
        "status",
        "eval_return_mean",
        "eval_return_std",
    }
    ids = [row["id"] for row in table]
    listed = {row["id"]: row for row in cli.json("runs", "ls", "--population", str(ids[0]))}
    assert sorted(listed) == ids
    for row in table:
        shown = listed[row["id"]]
        assert (shown["seed"], shown["config"]["discount"]) == (row["seed"], row["discount"])
        assert shown["population"] == ids[0] and shown["device"] == "cpu"
        assert shown["steps_done"] == 600 and shown["checkpoint_step"] == 600
        assert shown["summary"]["eval_return_mean"] == row["eval_return_mean"]
    store = Store(home)
    metrics = [store.metrics(run_id, "charts/episode_return") for run_id in ids]
    store.close()
    assert all(metrics) and metrics[0] != metrics[1]  # own metrics: seeds differ
    assert f"of population {ids[0]}" in cli("runs", "show", str(ids[2])).stdout
    assert "pop" in cli("runs", "ls").stdout.splitlines()[0]


def test_a_foreground_population_prints_a_table_of_its_members(cli) -> None:
    result = cli("run", "dqn", "cartpole", *TINY, "--seeds", "1-3")
    assert result.exit_code == 0, result.output
    assert "3 members" in result.stdout and result.stdout.count("completed") == 3
    assert "±" in result.stdout


def test_a_member_evaluates_exports_and_loads_like_a_lone_run(cli, home: Path) -> None:
    table = json.loads(cli("run", "dqn", "cartpole", *TINY, "--seeds", "0-1", "--json").stdout)
    lone = cli.json("run", "dqn", "cartpole", *TINY, "--seed", "1")
    exported = cli("runs", "export", str(table[1]["id"]), "--format", "json", "--wide")
    assert exported.exit_code == 0 and json.loads(exported.stdout)["run"]["seed"] == 1
    from workbench.runner import load_trained

    store = Store(home)
    member, alone = store.get_run(table[1]["id"]), store.get_run(lone["id"])
    assert load_trained(store, member).state_dict().keys() == (
        load_trained(store, alone).state_dict().keys()
    )
    assert load_trained(store, member, "best").weights().keys() == alone_weights(store, alone)
    store.close()
    # eval treats a member as it treats a lone run of the same agent
    on_member, on_lone = cli("eval", str(member.id)), cli("eval", str(alone.id))
    assert on_member.exit_code == on_lone.exit_code
    assert on_member.stderr.replace(f"run {member.id} ", "run ID ") == on_lone.stderr.replace(
        f"run {alone.id} ", "run ID "
    )


def alone_weights(store: Store, run) -> Any:
    from workbench.runner import load_trained

    return load_trained(store, run, "best").weights().keys()


def ended(store: Store, ids: list[int], timeout: float) -> list:
    """The members' rows once none is queued or running."""

    def rows_if_ended() -> list | None:
        runs = store.get_runs(ids)
        return runs if all(run.status not in ("queued", "running") for run in runs) else None

    return wait_for(rows_if_ended, timeout=timeout)


def test_a_background_population_prints_its_ids_and_completes(cli, home: Path) -> None:
    result = cli("run", "dqn", "cartpole", *TINY, "--seeds", "0-2", "--background")
    assert result.exit_code == 0, result.output
    ids = [int(line) for line in result.stdout.splitlines()]
    assert len(ids) == 3
    store = Store(home)
    try:
        done = ended(store, ids, timeout=120)
        assert [(r.status, r.steps_done) for r in done] == [("completed", 600)] * 3
        assert len({r.pid for r in done}) == 1  # one worker process for the population
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--seeds", ""], ["--seeds"]),
        (["--seeds", "3-1"], ["goes down"]),
        (["--seeds", "a"], ["'a' is not a seed"]),
        (["--seeds", "0,1,1"], ["seed 1 is given twice"]),
        (["--seeds", "0-5000000000"], ["seeds go up to"]),
        (["--seeds", "0-3", "--seed", "2"], ["not both"]),
        (["--vary", "discont=0.9,0.95"], ["unknown config field", "discount"]),
        (["--vary", "hidden_size=32,64"], ["hidden_size", "equal across the members"]),
        (["--vary", "discount=0.9,1.5"], ["discount=1.5", "out of range"]),
        (["--vary", "discount=0.9,x"], ["not a valid float"]),
        (["--vary", "discount"], ["FIELD=v1,v2"]),
        (["--vary", "gravity=1,2"], ["parameter of task cartpole"]),
        (["--vary", "discount=0.9", "--set", "discount=0.8"], ["--set and --vary"]),
        (["--seeds", "0-1", "--device", "tpu"], ["--device must be"]),
        (["--seeds", "0-1", "--name", "a\x1b[2Jb"], ["no control characters"]),
        (
            ["--seeds", "0-999", "--vary", "tau=" + ",".join(f"0.{i:03}" for i in range(1, 12))],
            ["11,000 members", "at most 10,000"],
        ),
    ],
)
def test_bad_population_input_is_one_line_and_stores_nothing(
    cli, home: Path, args: list[str], needles: list[str]
) -> None:
    result = cli("run", "dqn", "cartpole", "--steps", "600", *args)
    assert_one_line_refusal(result, *needles)
    assert nothing_stored(home)


def test_a_population_of_an_agent_without_a_batched_form_is_refused(cli, home: Path) -> None:
    result = cli("run", "rl2", "bandit", "--seeds", "0-3")
    assert_one_line_refusal(result, "rl2 has no population form", "dqn")
    assert nothing_stored(home)


def test_cuda_without_a_gpu_is_refused(cli, home: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = cli("run", "dqn", "cartpole", "--device", "cuda")
    assert_one_line_refusal(result, "--device cuda", "no CUDA GPU")
    assert nothing_stored(home)


def test_device_auto_is_stored_resolved(cli) -> None:
    row = cli.json("run", "dqn", "cartpole", *TINY)
    shown = cli.json("runs", "show", str(row["id"]))
    assert shown["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_resume_takes_run_ids_or_a_population_but_not_both(cli) -> None:
    assert_one_line_refusal(cli("runs", "resume"), "run ids or --population")
    assert_one_line_refusal(cli("runs", "resume", "1", "--population", "1"), "one of the two")
    assert_one_line_refusal(cli("runs", "resume", "--population", "7"), "no population 7")


def test_ctrl_c_on_a_foreground_population_checkpoints_every_member_then_stops(
    cli, home: Path
) -> None:
    def interrupt_once_all_train() -> None:
        def training() -> bool:
            try:
                store = Store(home)
                runs = store.list_runs()
                store.close()
            except Exception:  # noqa: BLE001 - the store is not there yet
                return False
            return len(runs) == 3 and all(run.steps_done > 0 for run in runs)

        wait_for(training, timeout=120, interval=0.1)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt_once_all_train, daemon=True)
    thread.start()
    result = cli("run", "dqn", "cartpole", "--steps", "500000", "--seeds", "0-2")
    thread.join()
    assert result.exit_code == 130, result.output
    store = Store(home)
    runs = store.list_runs()
    store.close()
    assert [run.status for run in runs] == ["stopped"] * 3
    assert all(run.checkpoint_step == run.steps_done > 0 for run in runs)
    assert len({run.steps_done for run in runs}) == 1  # lockstep
    assert "workbench runs resume 1 2 3" in result.stdout


def test_seeds_are_lists_and_ranges_in_the_order_given() -> None:
    from workbench.service.populations import parse_seeds

    assert parse_seeds("0-3,8") == [0, 1, 2, 3, 8]
    assert parse_seeds(" 7 , 2-3") == [7, 2, 3]
    assert parse_seeds("5") == [5]


def test_members_are_the_product_of_varied_values_and_seeds() -> None:
    from workbench.service.populations import check_population

    population = check_population(
        "dqn", "cartpole", seeds=[3, 4], vary={"discount": ["0.9", "0.99"], "tau": ["1", "0.5"]}
    )
    assert population.seeds == [3, 4] * 4
    pairs = [(config["discount"], config["tau"]) for config in population.configs]
    assert pairs == [(0.9, 1.0)] * 2 + [(0.9, 0.5)] * 2 + [(0.99, 1.0)] * 2 + [(0.99, 0.5)] * 2
    assert population.varied[2] == {"discount": 0.9, "tau": 0.5}
    assert population.device in ("cpu", "cuda")


def test_a_population_larger_than_sqlites_parameter_limit_is_claimed_beaten_and_polled(
    store: Store,
) -> None:
    member = {"agent": "dqn", "task": "cartpole", "config": {}, "task_params": {}}
    ids = store.create_population([member | {"seed": s, "total_steps": 10} for s in range(1200)])
    assert len(store.population_runs(ids[0])) == 1200
    store.request_stop(ids[1])  # stopped while queued: not claimed
    claimed = store.claim_all(ids, pid=1)
    assert claimed == [ids[0], *ids[2:]]
    store.sql.execute("UPDATE runs SET heartbeat = 0")
    store.beat_all(ids)
    beaten = store.sql.scalar("SELECT COUNT(*) FROM runs WHERE heartbeat > 0")
    assert beaten == 1199  # every running member, not the stopped one
    store.request_stop(ids[1100])
    assert store.stop_flags(ids) == {ids[1], ids[1100]}
