"""Numbers beyond any sane budget, seeds beyond 64 bits, huge config values, bad config
files and bad study names: each is one line on stderr, exit 2, and nothing stored
(issue 12, items 3, 5 and 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envs.config import ConfigError, FieldInfo, fields, parse_value

from .conftest import assert_one_line_refusal, nothing_stored

HUGE = "99999999999999999999"  # beyond 64 bits
SHORT = ["--steps", "300"]  # were a probe accepted, its run would end soon
STUDY = ["--agent", "a2c", "--task", "cartpole", "--method", "grid", "--trials", "4"]

RUN_PROBES = [
    (["run", "dqn", "cartpole", "--steps", HUGE], "--steps must be a positive number"),
    (["run", "dqn", "cartpole", "--seed", HUGE], "--seed must be zero or positive"),
    (["run", "dqn", "cartpole", *SHORT, "--seed", str(2**32)], "at most 4,294,967,295"),
    (["run", "dqn", "cartpole", "--steps", str(10**12)], "at most 1,000,000,000"),
    (["run", "dqn", "cartpole", *SHORT, "--set", f"learning_starts={HUGE}"], "learning_starts="),
    (["run", "dqn", "cartpole", *SHORT, "--set", f"train_frequency={HUGE}"], "train_frequency="),
    (["run", "dqn", "cartpole", *SHORT, "--set", f"eval_interval={HUGE}"], "eval_interval="),
    (["run", "ppo", "cartpole", *SHORT, "--set", f"eval_interval={HUGE}"], "eval_interval="),
    (["run", "rl2", "bandit", *SHORT, "--set", f"eval_interval={HUGE}"], "eval_interval="),
    (["run", "meta-dqn", "cartpole", *SHORT, "--set", f"meta_interval={HUGE}"], "meta_interval="),
    (["study", "create", "s", *STUDY, "--steps", HUGE], "--steps", "env steps"),
    (["study", "create", "s", *STUDY, "--steps", "1000", "--seed", "-1"], "--seed -1"),
    (["study", "create", "s", *STUDY, "--steps", "1000", "--seed", HUGE], "--seed"),
    (["study", "create", "s", *STUDY, "--steps", "1000", "--seed", str(2**40)], "--seed"),
    (["study", "run", "s", "--workers", "100000"], "--workers 100000: give 1 to"),
    (["run", "dqn", "cartpole", *SHORT, "--name", "a\x1b[2Jb"], "no control characters"),
    (["run", "dqn", "cartpole", *SHORT, "--name", "a\nb"], "no control characters"),
    (["runs", "stop", "1", "--wait", "inf"], "--wait must be"),
    (["runs", "stop", "1", "--wait", "nan"], "--wait must be"),
]


@pytest.mark.parametrize(
    ("args", "needles"),
    [(args, needles) for args, *needles in RUN_PROBES],
    ids=[" ".join(a)[:60] for a, *_ in RUN_PROBES],
)
def test_bad_option_is_one_line(cli, home: Path, args, needles) -> None:
    assert_one_line_refusal(cli(*args), *needles)
    assert nothing_stored(home)


@pytest.mark.parametrize(
    "args",
    [
        ["baselines", "bandit", "--tasks", "1000000000"],
        ["baselines", "bandit", "--seed", HUGE],
        ["baselines", "bandit", "--seed", "-5"],
    ],
    ids=lambda a: " ".join(a),
)
def test_baselines_counts_are_bounded(cli, args) -> None:
    assert_one_line_refusal(cli(*args), args[-2])


def test_eval_counts_are_bounded(cli, home: Path) -> None:
    assert_one_line_refusal(cli("eval", "1", "--tasks", "1000000000"), "--tasks")
    assert_one_line_refusal(cli("eval", "1", "--seed", HUGE), "--seed")
    assert_one_line_refusal(cli("report", "generalization", "--tasks", "0"), "--tasks")
    assert nothing_stored(home)


def test_compare_lifetimes_are_bounded(cli, home: Path) -> None:
    assert_one_line_refusal(cli("study", "compare", "g", "--lifetimes", "100000"), "--lifetimes")
    assert nothing_stored(home)


# --- config files ----------------------------------------------------------------------
def test_config_from_dev_zero_is_refused_without_reading_it(cli, home: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    result = cli("run", "dqn", "cartpole", "--config", "/dev/zero")
    assert_one_line_refusal(result, "/dev/zero", "not a regular file")
    assert nothing_stored(home)


def test_config_fifo_is_refused_without_blocking(cli, home: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    assert_one_line_refusal(cli("run", "dqn", "cartpole", "--config", str(fifo)), "regular")


def test_binary_config_is_one_line(cli, home: Path, tmp_path: Path) -> None:
    binary = tmp_path / "weights.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    result = cli("run", "dqn", "cartpole", "--config", str(binary))
    assert_one_line_refusal(result, str(binary), "not UTF-8 text")
    assert nothing_stored(home)


def test_config_larger_than_the_limit_is_refused(cli, home: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 200_000)  # 2 MB of comments: valid TOML, too large
    result = cli("run", "dqn", "cartpole", "--config", str(big))
    assert_one_line_refusal(result, "larger than 1 MiB")
    assert nothing_stored(home)


def test_config_directory_is_refused(cli, home: Path, tmp_path: Path) -> None:
    assert_one_line_refusal(cli("run", "dqn", "cartpole", "--config", str(tmp_path)), "regular")
    result = cli("run", "dqn", "cartpole", "--config", str(tmp_path / "nope.toml"))
    assert_one_line_refusal(result, "cannot read config file", "No such file")


def test_huge_number_in_a_config_file_is_one_line(cli, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(f"learning_starts = {HUGE}\n")
    assert_one_line_refusal(
        cli("run", "dqn", "cartpole", *SHORT, "--config", str(path)), "learning_starts"
    )
    assert nothing_stored(home)


# --- study names ------------------------------------------------------------------------
BAD_NAMES = ["", " ", "../../x", "a/b", "a\\b", "x\x1b[2Jy", "tab\there", "[bold]", "a" * 101]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_study_name_is_refused_at_create_with_the_pattern(cli, home: Path, name: str) -> None:
    result = cli("study", "create", name, *STUDY, "--steps", "1000")
    assert_one_line_refusal(result, "is not valid: use 1 to 100 letters, digits")
    assert "\x1b" not in result.stderr  # a control character is shown escaped
    assert nothing_stored(home)


@pytest.mark.parametrize("command", ["run", "resume", "worker", "show", "rm"])
@pytest.mark.parametrize("name", ["../../x", "a/b", ""], ids=repr)
def test_bad_study_name_is_refused_by_every_command(cli, home: Path, command, name) -> None:
    assert_one_line_refusal(cli("study", command, name), "is not valid: use 1 to 100")


def test_bad_group_name_is_refused(cli, home: Path) -> None:
    result = cli("study", "create", "s", *STUDY, "--steps", "1000", "--group", "../g")
    assert_one_line_refusal(result, "--group '../g' is not valid")
    assert nothing_stored(home)


@pytest.mark.parametrize("name", ["-x", ".hidden", "..", "a b", "a:b", "é"])
def test_study_name_pattern(name: str) -> None:
    from studies.study import check_name

    with pytest.raises(ConfigError, match="letters, digits"):
        check_name(name)
    assert check_name("A.b-c_9") == "A.b-c_9"


# --- the config machinery ---------------------------------------------------------------
INNER_LOOP_COUNTS = {"gradient_steps"}
"""Counts of work inside one update, bounded by the stop work (fault-stop), not here."""


def _all_configs():
    from agents.reference import policies_for
    from agents.registry import AGENTS
    from envs.registry import TASKS

    configs = {spec.config for spec in AGENTS.values()}
    configs |= {family.Params for family in TASKS.values()}
    for family in TASKS.values():
        configs |= {policy.config for policy in policies_for(family)}
    return sorted(configs, key=lambda cls: cls.__qualname__)


def test_every_int_field_has_an_upper_bound() -> None:
    unbounded = [
        f"{cls.__qualname__}.{info.name}"
        for cls in _all_configs()
        for info in fields(cls)
        if info.type is int
        and info.name not in INNER_LOOP_COUNTS
        and (info.range is None or info.range.high is None)
    ]
    assert unbounded == []


def test_an_int_field_without_a_bound_still_fits_64_bits() -> None:
    from agents.registry import AGENTS
    from envs.config import MAX_INT

    config = AGENTS["dqn"].config
    with pytest.raises(ConfigError, match="too large"):
        config(gradient_steps=MAX_INT + 1)


def test_whole_number_text_is_parsed_exactly() -> None:
    info = FieldInfo("seed_like", int, 0, "", None)
    assert parse_value(info, "12345678901234567891") == 12345678901234567891
    assert parse_value(info, "1e6") == 1_000_000
    with pytest.raises(ConfigError, match="not a valid int"):
        parse_value(info, "1e400")
    with pytest.raises(ConfigError, match="not a valid int"):
        parse_value(info, "9" * 5000)
