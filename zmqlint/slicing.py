"""Parse only what can hold a finding: what holds no candidate is stubbed out.

Most of LibCST's cost on a file with findings goes to parts that hold none: a test module
with one bare ``except:`` is thousands of lines of other methods. When every rule that runs
on a file is *local* (`Rule.candidates`), the engine hands the rules a text in which, line
for line:

- each ``def``/``class`` at the top level or in a class body that holds no candidate is a stub
  binding the same name (``def name(): pass``, then blank lines); a class holding one keeps
  its header and is sliced the same way one level down; everything else at those levels
  (imports, assignments, ``if``/``try`` blocks) is kept;
- in a function holding a candidate, each statement holding none is ``None`` (a definition:
  its stub), a compound statement holding one keeps its header and clauses and is sliced
  block by block, and the candidate statement itself (or the innermost one holding it) is
  kept whole. A function with a ``global``/``nonlocal`` statement is kept whole.

Lines and columns of everything kept do not change, so findings come out exactly where they
would on the whole file. Only linting uses the sliced text: fixes are computed on the whole
file. The prefilter soundness tests compare runs with and without it.
"""

from __future__ import annotations

import ast
import bisect
from typing import Iterable, List, Optional, Sequence, Tuple

from zmqlint.nodes import first_line, split_lines

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)

Span = Tuple[int, int]


def sliced_text(text: str, tree: ast.Module, spans: Iterable[Span], whole_lines: Iterable[int] = ()) -> Optional[str]:
    """``text`` (whose ast is ``tree``) with what holds none of the candidate ``spans`` (first
    and last line of each candidate node) stubbed out; None when nothing would be (parse the
    text as it is).

    At the top level and in class bodies, definitions are stubbed and everything else is
    kept. In a function that holds a candidate, every statement that holds none becomes
    ``pass`` (a definition: a stub binding its name), a compound statement holding one is
    sliced the same way block by block, and a statement that *is* a candidate, or the
    innermost one holding it, is kept whole. A function holding one of ``whole_lines`` (the
    caller names its ``global``/``nonlocal`` statements: code binding module names from
    inside) is kept whole.
    """
    out = split_lines(text)
    slicer = _Slicer(sorted(set(spans)), sorted(set(whole_lines)), out)
    slicer.module(tree.body)
    if not slicer.stubs:
        return None
    for first, last, stub in slicer.stubs:
        if not 1 <= first <= last <= len(out):
            return None  # line numbers that do not match the text: parse it whole
        head = out[first - 1]
        indent = head[: len(head) - len(head.lstrip(" \t\f"))]
        out[first - 1] = indent + stub + _ending(head)
        for number in range(first, last):
            out[number] = _ending(out[number])
    return "".join(out)


class _Slicer:
    def __init__(self, spans: List[Span], whole_lines: List[int], lines: List[str]) -> None:
        self.spans = spans
        # A candidate ends no later than the statement holding it: "holds a candidate" is
        # "some candidate starts within its lines".
        self.starts = [first for first, _ in spans]
        self.whole_lines = whole_lines
        self.lines = lines
        self.stubs: List[Tuple[int, int, str]] = []

    def holds(self, first: int, last: int) -> bool:
        return _any_between(self.starts, first, last)

    def is_candidate(self, first: int, last: int) -> bool:
        position = bisect.bisect_left(self.spans, (first, last))
        return position < len(self.spans) and self.spans[position] == (first, last)

    def module(self, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            if not isinstance(stmt, _DEFINITIONS):
                continue
            first, last = first_line(stmt), _last_line(stmt)
            if not self.holds(first, last) and not _any_between(self.whole_lines, first, last):
                self.stubs.append((first, last, _stub(stmt)))
            elif isinstance(stmt, ast.ClassDef) and stmt.body and first_line(stmt.body[0]) > stmt.lineno:
                self.module(stmt.body)
            elif isinstance(stmt, _FUNCTIONS) and not _any_between(self.whole_lines, first, last):
                self.block(stmt.body, stmt.lineno)

    def block(self, body: Sequence[ast.stmt], header_line: int) -> None:
        """Stub what holds no candidate in a block of a function (``header_line``: the line
        its compound statement starts on)."""
        for group in _line_groups(body):
            first, last = first_line(group[0]), _last_line(group[-1])
            if first <= header_line or not self.starts_line(group[0]):
                return  # the block shares a line with its header (``if x: a``): keep it
            if not self.holds(first, last):
                self.stubs.append((first, last, _stub(group[0]) if len(group) == 1 else _NEUTRAL))
                continue
            stmt = group[0]
            if len(group) > 1 or self.is_candidate(first, last) or self.is_candidate(stmt.lineno, last):
                continue
            for child_body in _blocks(stmt):
                if child_body:
                    self.block(child_body, stmt.lineno)


    def starts_line(self, stmt: ast.stmt) -> bool:
        """Nothing but indentation (and the ``@`` of a decorator) before ``stmt`` on its line."""
        first = first_line(stmt)
        if not 1 <= first <= len(self.lines):
            return False
        decorators = [d for d in getattr(stmt, "decorator_list", ()) if d.lineno == first]
        column = decorators[0].col_offset if decorators else stmt.col_offset  # in UTF-8 bytes
        before = self.lines[first - 1].encode("utf-8", "surrogatepass")[:column].strip()
        return before == (b"@" if decorators else b"")


def _line_groups(body: Sequence[ast.stmt]) -> List[List[ast.stmt]]:
    """``body`` in runs of statements sharing lines (``a = 1; b = 2``)."""
    groups: List[List[ast.stmt]] = []
    for stmt in body:
        if groups and first_line(stmt) <= _last_line(groups[-1][-1]):
            groups[-1].append(stmt)
        else:
            groups.append([stmt])
    return groups


def _blocks(stmt: ast.stmt) -> List[Sequence[ast.stmt]]:
    """The statement lists of a compound statement (none for a simple one)."""
    blocks: List[Sequence[ast.stmt]] = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(stmt, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            blocks.append(value)
    for handler in getattr(stmt, "handlers", ()):
        blocks.append(handler.body)
    for case in getattr(stmt, "cases", ()):
        blocks.append(case.body)
    return blocks


def _last_line(stmt: ast.stmt) -> int:
    return stmt.end_lineno or stmt.lineno


def _any_between(wanted: List[int], first: int, last: int) -> bool:
    position = bisect.bisect_left(wanted, first)
    return position < len(wanted) and wanted[position] <= last


#: What stands for a statement inside a function: an expression statement, not ``pass``, so a
#: handler whose body was stubbed does not turn into one that "only passes" (EXC601).
_NEUTRAL = "None"


def _stub(node: ast.stmt) -> str:
    """A statement binding what ``node`` binds, for the first of its lines (`_NEUTRAL` for a
    statement that binds nothing a local rule looks at)."""
    if not isinstance(node, _DEFINITIONS):
        return _NEUTRAL
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
