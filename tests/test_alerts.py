"""zmqlint_runtime.alerts.compare: the safe replacement for eval'd alert conditions."""

from __future__ import annotations


import pytest

from zmqlint_runtime.alerts import ConditionError, compare, parse_condition


@pytest.mark.parametrize(
    "value,condition,expected",
    [
        (0.93, "> 0.9", True),
        (0.9, "> 0.9", False),
        (0.9, ">= 0.9", True),
        (10, "<= 10", True),
        (11, "<=10", False),
        (3, "== 3", True),
        (3, "!= 3", False),
        (-1, "< -0.5", True),
        ("42", "  >  41  ", True),
        (True, "== 1", True),
        (1e6, ">= 1e6", True),
        (5, "> .5", True),
        (1_000, "== 1_000", True),
    ],
)
def test_good_conditions(value, condition, expected):
    assert compare(value, condition) is expected


HOSTILE = [
    "> 0 or __import__('os').system('touch {marker}')",
    "> 0; import os",
    "__import__('os').system('touch {marker}')",
    "> (lambda: 1)()",
    "> 1 if True else 0",
    "> 0x10",
    "in [1, 2]",
    "is None",
    "> nan",
    "> inf",
    ">",
    "",
    "0.9",
    "=> 1",
    "=< 1",
    "<> 1",
    "> 1 > 0",
    "> 1\n> 0",
    "> " + "9" * 100,
]


@pytest.mark.parametrize("condition", HOSTILE)
def test_hostile_conditions_raise_and_run_nothing(condition, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ConditionError):
        compare(1, condition.format(marker=marker))
    assert not marker.exists()


@pytest.mark.parametrize("value", [None, object(), [1], "abc", {"a": 1}])
def test_non_numeric_values_raise(value):
    with pytest.raises(ConditionError):
        compare(value, "> 1")


def test_non_string_condition_raises():
    with pytest.raises(ConditionError):
        compare(1, 0.5)  # type: ignore[arg-type]


def test_parse_condition_returns_operator_and_threshold():
    import operator

    assert parse_condition(">= 2.5") == (operator.ge, 2.5)


def test_condition_error_is_a_value_error():
    assert issubclass(ConditionError, ValueError)
