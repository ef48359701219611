"""Safe comparison conditions for alerts: ``compare(0.93, "> 0.9")``.

Alert rules are often configured as a condition string such as ``"> 0.9"`` or ``"<= 10"`` and
then checked with ``eval(f"{value} {condition}")`` — which runs whatever the configuration
holds. ``compare`` parses the condition with one regular expression (an operator from
``== != < <= > >=`` and a number) and applies the operator from the `operator` module. Nothing
is evaluated: anything else raises `ConditionError`.
"""

from __future__ import annotations

import math
import operator
import re
from typing import Callable, Dict, Tuple, Union

__all__ = ["ConditionError", "compare", "parse_condition"]

Number = Union[int, float]

_OPERATORS: Dict[str, Callable[[Number, Number], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}

_CONDITION = re.compile(
    r"""\A\s*
    (?P<op>==|!=|<=|>=|<|>)
    \s*
    (?P<number>[+-]?(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    \s*\Z""",
    re.VERBOSE,
)

_MAX_CONDITION_LENGTH = 64


class ConditionError(ValueError):
    """The condition is not ``<operator> <number>``, or the value is not a number."""


def parse_condition(condition: str) -> Tuple[Callable[[Number, Number], bool], float]:
    """Split ``"> 0.9"`` into ``(operator.gt, 0.9)``; raise `ConditionError` for anything else."""
    if not isinstance(condition, str):
        raise ConditionError(f"a condition must be a string like '> 0.9', not {type(condition).__name__}")
    if len(condition) > _MAX_CONDITION_LENGTH:
        raise ConditionError(f"condition too long ({len(condition)} characters): expected '<operator> <number>'")
    match = _CONDITION.match(condition)
    if match is None:
        raise ConditionError(
            f"unsupported condition {condition!r}: expected one of == != < <= > >= followed by a number"
        )
    threshold = float(match.group("number").replace("_", ""))
    if not math.isfinite(threshold):
        raise ConditionError(f"condition {condition!r} compares against a non-finite number")
    return _OPERATORS[match.group("op")], threshold


def _as_number(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    try:  # numpy scalars, Decimal, Fraction ...
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConditionError(f"cannot compare {type(value).__name__} value {value!r} as a number") from None


def compare(value: object, condition: str) -> bool:
    """True when ``value`` satisfies ``condition`` (``"> 0.9"``, ``"<= 10"``, ``"== 3"``, ...).

    >>> compare(0.93, "> 0.9")
    True
    >>> compare(3, "!= 3")
    False
    """
    op, threshold = parse_condition(condition)
    return bool(op(_as_number(value), threshold))
