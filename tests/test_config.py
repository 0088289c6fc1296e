"""Config dataclasses: defaults, help text from docstrings, typed parsing, range checks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agents.dqn import DQNConfig
from envs.config import Config, ConfigError, bounded, build, describe, fields, suggest


@dataclass
class ToyConfig(Config):
    discount: float = bounded(0.9, 0.0, 1.0, high_open=True)
    """Discount factor."""
    batch_size: int = bounded(32, 1)
    """Minibatch size."""
    double: bool = False
    """Use the double estimator."""


def test_docstrings_become_help() -> None:
    helps = {info.name: info.help for info in fields(ToyConfig)}
    assert helps == {
        "discount": "Discount factor.",
        "batch_size": "Minibatch size.",
        "double": "Use the double estimator.",
    }


def test_every_dqn_field_has_help() -> None:
    assert all(info.help for info in fields(DQNConfig))


def test_text_values_are_parsed_to_field_types() -> None:
    config = build(ToyConfig, {"discount": "0.5", "batch_size": "64", "double": "true"}, owner="t")
    assert (config.discount, config.batch_size, config.double) == (0.5, 64, True)


def test_out_of_range_names_field_value_and_range() -> None:
    with pytest.raises(ConfigError, match=r"discount=1\.5 is out of range: allowed \[0, 1\)"):
        build(ToyConfig, {"discount": "1.5"}, owner="t")


def test_open_bound_is_excluded() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        ToyConfig(discount=1.0)


def test_not_a_number_is_refused() -> None:
    with pytest.raises(ConfigError, match="discount='abc' is not a valid float"):
        build(ToyConfig, {"discount": "abc"}, owner="t")


def test_fractional_int_is_refused() -> None:
    with pytest.raises(ConfigError, match="batch_size='2.5' is not a valid int"):
        build(ToyConfig, {"batch_size": "2.5"}, owner="t")


def test_unknown_key_suggests_closest() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'discont'.*did you mean discount"):
        build(ToyConfig, {"discont": "0.5"}, owner="toy")


def test_wrong_type_from_a_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="batch_size='64' has type str, expected int"):
        ToyConfig(batch_size="64")  # type: ignore[arg-type]


def test_non_finite_float_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a finite number"):
        build(ToyConfig, {"discount": "nan"}, owner="t")


def test_cross_field_rule() -> None:
    with pytest.raises(ConfigError, match="final_epsilon=0.5 exceeds initial_epsilon=0.1"):
        DQNConfig(initial_epsilon=0.1, final_epsilon=0.5)


def test_describe_lists_defaults_and_ranges() -> None:
    rows = {row["name"]: row for row in describe(ToyConfig)}
    assert rows["discount"]["default"] == 0.9
    assert rows["discount"]["range"] == "[0, 1)"
    assert rows["double"]["range"] is None


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("lr", "learning_rate"),  # initials: difflib alone finds nothing
        ("learn", "learning_rate"),  # a prefix
        ("hid_lay", "hidden_layers"),  # a prefix of each word
        ("discont", "discount"),  # a typo, as before
    ],
)
def test_unknown_key_suggests_abbreviated_and_misspelled_fields(typed: str, meant: str) -> None:
    names = ["learning_rate", "discount", "hidden_layers", "hidden_size", "batch_size"]
    assert meant in suggest(typed, names)


def test_nothing_is_suggested_for_an_unrelated_key() -> None:
    assert suggest("xyz", ["learning_rate", "discount"]) == ""
