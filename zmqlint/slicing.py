"""Parse only what can hold a finding: definitions without a candidate become stubs.

Most of LibCST's cost on a file with findings goes to parts that hold none: a test module
with one bare ``except:`` is thousands of lines of other methods. When every rule that runs
on a file is *local* (`Rule.candidates`: its findings inside a definition depend only on that
definition, on the module's other top-level statements and on the names definitions bind),
the engine hands the rules a text in which each ``def``/``class`` at the top level or in a
class body that holds no candidate is replaced, line for line, by a stub binding the same
name (``def name(): pass``, then blank lines). A class that holds a candidate keeps its header
and is sliced the same way one level down; a function that holds one is kept whole, as is
every other statement (imports, assignments, ``if``/``try`` blocks).

Lines and columns of everything kept do not change, so findings come out exactly where they
would on the whole file. Only linting uses the sliced text: fixes are computed on the whole
file. The prefilter soundness tests compare runs with and without it.
"""

from __future__ import annotations

import ast
import bisect
from typing import Iterable, List, Optional, Sequence, Tuple

from zmqlint.tolerant import split_lines

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def sliced_text(text: str, tree: ast.Module, lines: Iterable[int]) -> Optional[str]:
    """``text`` (whose ast is ``tree``) with the definitions that hold none of ``lines``
    stubbed out; None when nothing would be (parse the text as it is).

    The caller names the lines of the candidates and of every ``global``/``nonlocal``
    statement: a definition binding module names from inside must be kept."""
    wanted = sorted(set(lines))
    stubs: List[Tuple[int, int, ast.stmt]] = []
    _collect(tree.body, wanted, stubs)
    if not stubs:
        return None
    out = split_lines(text)
    for first, last, node in stubs:
        if not 1 <= first <= last <= len(out):
            return None  # line numbers that do not match the text: parse it whole
        head = out[first - 1]
        indent = head[: len(head) - len(head.lstrip(" \t\f"))]
        out[first - 1] = indent + _stub(node) + _ending(head)
        for number in range(first, last):
            out[number] = _ending(out[number])
    return "".join(out)


def _collect(body: Sequence[ast.stmt], wanted: List[int], stubs: List[Tuple[int, int, ast.stmt]]) -> None:
    for stmt in body:
        if not isinstance(stmt, _DEFINITIONS):
            continue
        first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
        last = stmt.end_lineno or stmt.lineno
        if not _any_between(wanted, first, last):
            stubs.append((first, last, stmt))
        elif isinstance(stmt, ast.ClassDef) and stmt.body and _body_start(stmt.body[0]) > stmt.lineno:
            _collect(stmt.body, wanted, stubs)


def _any_between(wanted: List[int], first: int, last: int) -> bool:
    position = bisect.bisect_left(wanted, first)
    return position < len(wanted) and wanted[position] <= last


def _body_start(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", ())
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _stub(node: ast.stmt) -> str:
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}: pass"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    return f"{prefix} {node.name}(): pass"


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""
