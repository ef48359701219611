"""Rewrite of ``eval`` over a built comparison into ``zmqlint_runtime.alerts.compare`` (SEC401).

Recognised shapes (``value`` is the left operand, ``cond`` the rest, e.g. ``"> 0.9"``)::

    eval(f"{value} {cond}")            eval(f"{value} {op} {threshold}")
    eval(str(value) + " " + cond)      eval(str(value) + cond)
    eval("%s %s" % (value, cond))      eval("{} {}".format(value, cond))
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

import libcst as cst

from zmqlint.codemods import matchers as m

_TWO_SLOTS = re.compile(r"\A%[sdfr]\s*%[sdfr]\Z|\A\{\}\s*\{\}\Z|\A\{0\}\s*\{1\}\Z")


def _string_value(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.SimpleString) and "b" not in node.prefix.lower():
        return node.evaluated_value if isinstance(node.evaluated_value, str) else None
    return None


def _from_fstring(node: cst.FormattedString) -> Optional[Tuple[cst.BaseExpression, cst.BaseExpression]]:
    parts = list(node.parts)
    if len(parts) < 2 or not isinstance(parts[0], cst.FormattedStringExpression):
        return None
    first = parts[0]
    if first.conversion is not None or first.format_spec is not None:
        return None
    rest = parts[1:]
    # Leading whitespace between the value and the condition carries no meaning.
    if isinstance(rest[0], cst.FormattedStringText):
        stripped = rest[0].value.lstrip()
        rest = ([rest[0].with_changes(value=stripped)] if stripped else []) + rest[1:]
    if not rest:
        return None
    if len(rest) == 1 and isinstance(rest[0], cst.FormattedStringExpression) and rest[0].conversion is None and rest[0].format_spec is None:
        return first.expression, rest[0].expression
    if all(isinstance(p, cst.FormattedStringText) for p in rest):
        text = "".join(p.value for p in rest)
        return first.expression, cst.SimpleString(repr(text))
    return first.expression, node.with_changes(parts=rest)


def _unwrap_str(node: cst.BaseExpression) -> cst.BaseExpression:
    if m.matches(node, m.Call(func=m.Name("str"), args=[m.Arg(keyword=None, star="")])):
        return node.args[0].value
    return node


def comparison_operands(arg: cst.BaseExpression) -> Optional[Tuple[cst.BaseExpression, cst.BaseExpression]]:
    """``(value, condition)`` when ``arg`` builds "<value> <condition>", else None."""
    if isinstance(arg, cst.FormattedString):
        return _from_fstring(arg)
    if m.matches(arg, m.BinaryOperation(operator=m.Add())):
        # str(v) + " " + cond  parses as  (str(v) + " ") + cond
        left, right = arg.left, arg.right
        if m.matches(left, m.BinaryOperation(operator=m.Add())) and (_string_value(left.right) or "x").strip() == "":
            left = left.left
        if m.matches(left, m.Call(func=m.Name("str"))):
            return _unwrap_str(left), right
        return None
    if m.matches(arg, m.BinaryOperation(operator=m.Modulo(), right=m.Tuple())):
        template = _string_value(arg.left)
        elements = arg.right.elements
        if template is not None and _TWO_SLOTS.match(template.strip()) and len(elements) == 2 and not any(
            isinstance(e, cst.StarredElement) for e in elements
        ):
            return elements[0].value, elements[1].value
        return None
    if m.matches(arg, m.Call(func=m.Attribute(attr=m.Name("format")))):
        template = _string_value(arg.func.value)
        args = arg.args
        if template is not None and _TWO_SLOTS.match(template.strip()) and len(args) == 2 and all(
            a.keyword is None and a.star == "" for a in args
        ):
            return args[0].value, args[1].value
    return None


def compare_call(value: cst.BaseExpression, condition: cst.BaseExpression, module_alias: str) -> cst.Call:
    """``<module_alias>.compare(value, condition)``."""
    func = cst.parse_expression(f"{module_alias}.compare")
    return cst.Call(
        func=func,
        args=[
            cst.Arg(value=value, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            cst.Arg(value=condition),
        ],
    )
