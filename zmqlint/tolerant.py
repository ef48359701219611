"""Error-tolerant parsing: lint the parts of a broken file that parse.

A file with a syntax error is still worth checking: in real trees many files hold a
half-finished edit, and the bug a user wants found may sit thirty lines below it. So when the
interpreter rejects a file, the broken statements are set aside and the rest is parsed:

1. CPython compiles the text; its `SyntaxError` gives a line.
2. The top-level statement holding that line is found (a statement starts on a line at
   column 0 that is not inside a multi-line string, not a clause like ``else:`` and not a
   closing bracket; decorators belong to the definition below them).
3. If that statement is a compound one (``class``, ``def``, ``if``, ``with``, ...) whose header
   compiles on its own and the line lies in its body, the same is done one level down, and
   further down as long as headers parse.
4. The statement found is replaced: by blank lines at the top level, by ``pass`` (then blank
   lines) inside a block, so the block stays a block. Line numbers of everything else do not
   change, and neither do the columns.
5. Repeat until the text compiles (within a bounded number of rounds).

Each round's `SyntaxError` is one problem to report (E999): the first is CPython's own message
on the original file. A file that needed repairing is never rewritten by fixes: the engine
hands rules the repaired text for analysis only.

`parse` is also where files too deep for LibCST are turned away: LibCST's native parser
overflows its stack (killing the process) on inputs CPython accepts, such as a ``and`` chain of
ten thousand operands, and gets very slow on long postfix chains; its visitors hit Python's
recursion limit near a depth of 330 anyway. CPython parses first; a tree whose nesting (as
LibCST would nest it) passes `MAX_DEPTH` is reported, not handed to LibCST.
"""

from __future__ import annotations

import ast
import bisect
import functools
import io
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Set, Tuple

import libcst as cst

from zmqlint.nodes import HAS_LEAF_FIELDS, child_nodes, split_lines

#: Deeper than this (in LibCST's nesting) and a file is not analysed. LibCST's own visitors
#: give up near 330; its native parser crashes the process somewhere above 3000.
MAX_DEPTH = 500
#: At most this many broken regions are set aside before giving up on a file.
MAX_ROUNDS = 100
#: Above this size, the tokenizer's help (which lines are inside strings) is skipped.
TOKENIZE_LIMIT = 2_000_000

TOO_DEEP = "the file is nested too deeply to analyse"

_CLAUSE = re.compile(r"(else|elif|except|finally)\b")
_HEADER_END = re.compile(r":\s*(#.*)?$")
_COMPOUND = re.compile(r"(async\s+)?(def|class|if|for|while|with|try)\b|@")


@dataclass(frozen=True)
class SyntaxProblem:
    """One syntax error: 1-based line and column, the interpreter's message."""

    line: int
    column: int
    message: str


@dataclass
class Parsed:
    """The outcome of `parse`."""

    #: The module rules may analyse (None when nothing could be parsed).
    module: Optional[cst.Module]
    #: The text ``module`` was parsed from: the file itself, or the repaired text.
    text: str
    #: Syntax errors (E999); empty when the file parses as it is.
    problems: List[SyntaxProblem] = field(default_factory=list)
    #: Set when the file cannot be analysed at all for a reason other than syntax (too deep,
    #: NUL bytes): the message to report.
    failure: Optional[str] = None
    #: 1-based (first, last) line ranges set aside.
    regions: List[Tuple[int, int]] = field(default_factory=list)
    #: True when ``module`` was parsed from ``text`` with definitions stubbed out
    #: (`zmqlint.slicing`): good for linting, never for fixing.
    sliced: bool = False

    @property
    def repaired(self) -> bool:
        """True when the module was parsed from a repaired text: analyse, never rewrite."""
        return bool(self.problems) and self.module is not None


@dataclass
class Repair:
    text: str
    problems: List[SyntaxProblem]
    regions: List[Tuple[int, int]]
    #: The stdlib ast of ``text``, from the compile that accepted it (kept so that nobody
    #: parses the repaired text again).
    tree: Optional[ast.Module] = field(default=None, repr=False, compare=False)


def _compile(text: str) -> Optional[SyntaxError]:
    """The SyntaxError CPython raises for ``text``, or None. Other failures propagate."""
    return _compile_tree(text)[1]


def _compile_tree(text: str) -> Tuple[Optional[ast.Module], Optional[SyntaxError]]:
    """The stdlib ast of ``text`` (what `ast.parse` gives), or the SyntaxError CPython raises
    for it. Other failures propagate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return compile(text, "<tolerant>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True), None
        except SyntaxError as exc:
            return None, exc


def problem_of(exc: SyntaxError) -> SyntaxProblem:
    return SyntaxProblem(line=exc.lineno or 1, column=max(exc.offset or 1, 1), message=f"SyntaxError: {exc.msg}")


def cst_depth(tree: ast.AST) -> int:
    """How deep LibCST will nest ``tree``: its depth, where a ``BoolOp`` of n operands counts
    n - 1 levels (CPython keeps them flat, LibCST nests them)."""
    deepest = 0
    stack = [(tree, 1)]
    pop, push, BoolOp = stack.pop, stack.append, ast.BoolOp
    while stack:
        node, depth = pop()
        if depth > deepest:
            deepest = depth
        child_depth = depth + (len(node.values) - 1 if type(node) is BoolOp else 1)
        if child_depth > deepest and type(node) in HAS_LEAF_FIELDS:
            deepest = child_depth  # its context or operator, which `child_nodes` leaves out
        # `child_nodes`, not ast.iter_child_nodes: on a large file this walk costs as much as
        # parsing, and the generators were most of it.
        for child in child_nodes(node):
            push((child, child_depth))
    return deepest


def parse(
    text: str,
    *,
    need_module: bool = True,
    tree: Optional[ast.Module] = None,
    keep: Optional[Sequence[Tuple[int, int]]] = None,
    whole_lines: Sequence[int] = (),
    repair: Optional[Repair] = None,
) -> Parsed:
    """Parse ``text`` for analysis, setting broken statements aside (see the module docs).

    With ``need_module`` False, only the problems are computed (no LibCST parse). ``tree`` is
    the stdlib ast of ``text`` when the caller has it. With ``keep`` (line spans of candidates),
    a text that parses is handed to LibCST with what holds none of them stubbed out
    (`zmqlint.slicing.sliced_text`; ``whole_lines``: functions holding them stay whole).
    ``repair`` is `repair_text`'s result for ``text`` when the caller has it.
    """
    if "\0" in text:
        return Parsed(None, text, failure="the file contains NUL bytes; not Python source")
    if repair is not None:
        # The caller repaired ``text`` already (the project index does when it reads a module).
        if keep is not None and need_module and repair.tree is not None:
            parsed = _sliced_repair(repair, keep, whole_lines)
            if parsed is not None:
                return parsed
        return _parse_cst(repair.text, repair.problems, repair.regions, need_module, repair.tree)
    try:
        if tree is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text)
    except SyntaxError as exc:
        repair = repair_text(text, exc)
        if repair is None:
            return Parsed(None, text, problems=[problem_of(exc)])
        return _parse_cst(repair.text, repair.problems, repair.regions, need_module, repair.tree)
    except (RecursionError, MemoryError):
        return Parsed(None, text, failure=TOO_DEEP)
    except ValueError as exc:
        return Parsed(None, text, failure=f"cannot parse: {exc}")
    if len(text) > MAX_DEPTH and cst_depth(tree) > MAX_DEPTH:
        return Parsed(None, text, failure=TOO_DEEP)
    if keep is not None and need_module:
        from zmqlint.slicing import sliced_text

        sliced = sliced_text(text, tree, keep, whole_lines)
        if sliced is not None:
            parsed = _parse_cst(sliced, [], [], need_module)
            if parsed.module is not None:
                parsed.sliced = True
                return parsed
            # What LibCST rejects is for the whole text to report.
    return _parse_cst(text, [], [], need_module)


def _sliced_repair(repair: Repair, keep: Sequence[Tuple[int, int]], whole_lines: Sequence[int]) -> Optional[Parsed]:
    """The repaired text sliced to ``keep`` (as a text that parses is, see `parse`) and handed
    to LibCST; None when the whole repaired text is to be parsed instead: nothing to stub out,
    or LibCST rejects the sliced text (the whole text then reports what it rejects). A tree
    too deep for LibCST is left to the whole-text path too, which gives up on it the same way.
    """
    from zmqlint.slicing import sliced_text

    assert repair.tree is not None
    if len(repair.text) > MAX_DEPTH and cst_depth(repair.tree) > MAX_DEPTH:
        return None
    sliced = sliced_text(repair.text, repair.tree, keep, whole_lines)
    if sliced is None:
        return None
    try:
        module = cst.parse_module(sliced)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return None
    parsed = Parsed(module, sliced, problems=repair.problems, regions=repair.regions)
    parsed.sliced = True
    return parsed


def _parse_cst(
    text: str, problems: List[SyntaxProblem], regions, need_module: bool, tree: Optional[ast.Module] = None
) -> Parsed:
    if problems:
        # A repaired text went through CPython again (``tree``: its ast, when the repair kept
        # it); check its depth the same way.
        try:
            if tree is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse(text)
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            return Parsed(None, text, problems=problems)
        if len(text) > MAX_DEPTH and cst_depth(tree) > MAX_DEPTH:
            return Parsed(None, text, problems=problems)
    if not need_module:
        return Parsed(None, text, problems=problems, regions=regions)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        if problems:
            return Parsed(None, text, problems=problems, regions=regions)
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        line = getattr(exc, "raw_line", 1) or 1
        column = (getattr(exc, "raw_column", 0) or 0) + 1
        return Parsed(None, text, problems=[SyntaxProblem(line, column, f"cannot parse: {message}")])
    except (RecursionError, MemoryError):
        return Parsed(None, text, problems=problems, failure=None if problems else TOO_DEEP)
    return Parsed(module, text, problems=problems, regions=regions)


# -- repairing ---------------------------------------------------------------------------------


def repair_text(text: str, error: Optional[SyntaxError] = None) -> Optional[Repair]:
    """``text`` with its broken statements replaced so that CPython accepts it (same number of
    lines), with each syntax error met on the way; None if that does not succeed."""
    if error is None:
        try:
            error = _compile(text)
        except (RecursionError, MemoryError, ValueError):
            return None
        if error is None:
            return None
    lines = split_lines(text)
    if not lines:
        return None
    in_string = _string_lines(text) if len(text) <= TOKENIZE_LIMIT else set()
    problems = [problem_of(error)]
    regions: List[Tuple[int, int]] = []
    rounds = min(MAX_ROUNDS, max(5, 50_000_000 // max(len(text), 1)))
    for _ in range(rounds):
        region = _set_aside(lines, in_string, error.lineno or len(lines))
        if region is None:
            return None
        regions.append(region)
        candidate = "".join(lines)
        try:
            tree, error = _compile_tree(candidate)
        except (RecursionError, MemoryError, ValueError):
            return None
        if error is None:
            return Repair(candidate, problems, sorted(regions), tree)
        problem = problem_of(error)
        if all(p.line != problem.line for p in problems):
            problems.append(problem)
    return None


def _string_lines(text: str) -> Set[int]:
    """0-based indexes of lines that continue a multi-line string (never statement starts),
    as far as the tokenizer gets before the error."""
    inside = _scan_string_lines(text)
    return inside if inside is not None else _tokenized_string_lines(text)


def _tokenized_string_lines(text: str) -> Set[int]:
    """`_string_lines` with the stdlib tokenizer (pure Python before 3.12, and a third of a
    broken file's repair); `_scan_string_lines` gives the same in a fraction of the time."""
    inside: Set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                inside.update(range(tok.start[0], tok.end[0]))  # 0-based: lines after the first
    except (tokenize.TokenError, SyntaxError, IndentationError, ValueError, RecursionError, MemoryError):
        pass
    return inside


_LINE_END = re.compile("\n")
#: What can change what the tokenizer sees next on a line of code: a comment, a quote, a
#: bracket, a backslash (tokens of any other kind hold none of these).
_SIGNIFICANT = re.compile(r"""[#'"()\[\]{}\\]""")
#: The rest of a one-line string after its opening quote: closed, or continued by a backslash
#: (the tokenizer's ``ContStr``).
_SINGLE_REST = {
    "'": re.compile(r"[^\n'\\]*(?:\\.[^\n'\\]*)*('|\\\r?\n)"),
    '"': re.compile(r'[^\n"\\]*(?:\\.[^\n"\\]*)*("|\\\r?\n)'),
}
#: The rest of a triple-quoted string after its opening quotes, up to the closing ones (the
#: tokenizer's ``Single3`` / ``Double3``, across lines).
_TRIPLE_REST = {
    "'": re.compile(r"[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''", re.DOTALL),
    '"': re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""', re.DOTALL),
}


def _scan_string_lines(text: str) -> Optional[Set[int]]:
    """`_tokenized_string_lines` by a scan that looks only at what decides where strings are:
    comments, quotes, brackets, line continuations, and the indentation of each new logical
    line (the tokenizer stops at an inconsistent dedent). None where the tokenizer's handling
    is not reproduced here (a one-quote string continued by a backslash, a lone carriage
    return, a NUL): the tokenizer answers then."""
    if "\0" in text or "\r" in text.replace("\r\n", ""):
        return None
    inside: Set[int] = set()
    starts = [0] + [match.end() for match in _LINE_END.finditer(text)]
    if starts[-1] == len(text):
        starts.pop()
    count = len(starts)
    indents = [0]
    depth = 0
    continued = False
    number = 0  # 0-based line being read
    while number < count:
        line_end = starts[number + 1] if number + 1 < count else len(text)
        pos = starts[number]
        if depth == 0 and not continued:
            column = _indent(text[pos:line_end])
            if column is not None:
                if column > indents[-1]:
                    indents.append(column)
                while column < indents[-1]:
                    if column not in indents:
                        return inside  # IndentationError: the tokenizer stops here
                    indents.pop()
        else:
            continued = False
        while True:
            match = _SIGNIFICANT.search(text, pos, line_end)
            if match is None:
                break
            char = match.group()
            pos = match.end()
            if char == "#":
                break
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
            elif char == "\\":
                if text.startswith("\n", pos) or text.startswith("\r\n", pos):
                    continued = True
                    break
            elif text.startswith(char * 2, pos):  # a triple quote
                end = _TRIPLE_REST[char].match(text, pos + 2)
                if end is None:
                    return inside  # runs to the end of the file: the tokenizer gives up there
                pos = end.end()
                last = bisect.bisect_right(starts, pos - 1) - 1
                if last > number:
                    # The lines after the first; reading goes on after the string, on its last
                    # line, which starts no new logical line.
                    inside.update(range(number + 1, last + 1))
                    number = last
                    line_end = starts[number + 1] if number + 1 < count else len(text)
            else:
                end = _SINGLE_REST[char].match(text, pos, line_end)
                if end is None:
                    continue  # unterminated: the quote alone is an error token, the rest is code
                if end.group(1) != char:
                    return None  # continued by a backslash onto the next line
                pos = end.end()
        number += 1
    return inside


def _indent(line: str) -> Optional[int]:
    """Indentation width of ``line`` (tabs to multiples of 8), None for blank/comment lines."""
    width = 0
    for char in line:
        if char == " ":
            width += 1
        elif char == "\t":
            width = (width // 8 + 1) * 8
        elif char == "\f":
            width = 0
        else:
            return None if char in "#\r\n" else width
    return None


def _code(line: str) -> str:
    return line.lstrip(" \t\f")


def _starts(lines: List[str], in_string: Set[int], start: int, end: int, indent: int) -> List[int]:
    """Indexes in [start, end) where a statement at ``indent`` begins."""
    starts: List[int] = []
    for number in range(start, end):
        if number in in_string:
            continue
        width = _indent(lines[number])
        if width is None or width > indent:
            continue
        code = _code(lines[number])
        if starts and (_CLAUSE.match(code) or code[:1] in ")]}"):
            continue  # `else:`, `except ...:`, a closing bracket: part of the statement above
        if starts and _code(lines[_last_code_line(lines, in_string, starts[-1], number)]).startswith("@"):
            continue  # a decorator's statement runs on to the definition it decorates
        starts.append(number)
    return starts


def _last_code_line(lines: List[str], in_string: Set[int], start: int, end: int) -> int:
    """The last non-blank line in [start, end) (``start`` if none)."""
    for number in range(end - 1, start - 1, -1):
        if number not in in_string and _indent(lines[number]) is not None:
            return number
    return start


def _header_end(lines: List[str], start: int, end: int) -> Optional[int]:
    """The line ending the compound statement header that begins at ``start``."""
    for number in range(start, min(end, start + 50)):
        if _HEADER_END.search(lines[number].rstrip("\r\n")):
            return number
    return None


def _header_parses(lines: List[str], start: int, header_end: int, indent_text: str) -> bool:
    header = "".join(line[len(indent_text):] if line.startswith(indent_text) else line.lstrip(" \t") for line in lines[start : header_end + 1])
    first = _code(lines[start])
    tail = "\n except Exception: pass\n" if re.match(r"try\b", first) else "\n"
    try:
        return _compile(header.rstrip("\r\n") + "\n pass" + tail) is None
    except (RecursionError, MemoryError, ValueError):
        return False


def _compiles_alone(lines: List[str], first: int, last: int, indent_text: str) -> bool:
    body = "".join(line[len(indent_text) :] if line.startswith(indent_text) else line.lstrip(" \t\f") for line in lines[first:last])
    return _parses(body)


@functools.lru_cache(maxsize=256)
def _parses(body: str) -> bool:
    """Whether ``body`` compiles; remembered, as each round asks again about the statements
    before the broken one."""
    try:
        return _compile(body) is None
    except (RecursionError, MemoryError, ValueError):
        return False


def _set_aside(lines: List[str], in_string: Set[int], error_line: int) -> Optional[Tuple[int, int]]:
    """Replace the innermost broken statement at ``error_line`` (1-based); its 1-based range.

    The interpreter often reports an error after its cause (``x = (1,`` is reported on the
    next statement): when the statement holding the line compiles on its own, the nearest
    statement before it that does not is the one set aside.
    """
    target = min(max(error_line, 1), len(lines)) - 1
    start, end, indent, nested = 0, len(lines), 0, False
    while True:
        starts = _starts(lines, in_string, start, end, indent)
        if not starts:
            return None
        bounds = list(zip(starts, starts[1:] + [end]))
        holding = max((i for i, (first, _) in enumerate(bounds) if first <= target), default=0)
        chosen = holding
        for i in range(holding, max(holding - 50, -1), -1):
            first, last = bounds[i]
            indent_text = lines[first][: len(lines[first]) - len(_code(lines[first]))]
            if not _compiles_alone(lines, first, last, indent_text):
                chosen = i
                break
        first, last = bounds[chosen]
        if chosen != holding:
            target = _last_code_line(lines, in_string, first, last)
        # Inside a compound statement whose header parses: go one level down.
        code = _code(lines[first])
        indent_text = lines[first][: len(lines[first]) - len(code)]
        header_end = _header_end(lines, first, last) if _COMPOUND.match(code) else None
        if header_end is not None and target > header_end and _header_parses(lines, first, header_end, indent_text):
            body_end = header_end + 1
            while body_end < last:
                width = _indent(lines[body_end])
                if width is not None and body_end not in in_string and width <= indent:
                    break
                body_end += 1
            body_indents = [
                _indent(lines[n]) for n in range(header_end + 1, body_end) if n not in in_string and _indent(lines[n]) is not None
            ]
            if target < body_end and body_indents and body_indents[0] > indent:
                inner = _starts(lines, in_string, header_end + 1, body_end, body_indents[0])
                if inner and inner[0] <= target:
                    start, end, indent, nested = header_end + 1, body_end, body_indents[0], True
                    continue
        return _blank(lines, first, last, top_level=not nested)


def _blank(lines: List[str], first: int, last: int, *, top_level: bool) -> Optional[Tuple[int, int]]:
    changed = False
    for number in range(first, last):
        line = lines[number]
        ending = line[len(line.rstrip("\r\n")) :] or "\n"
        if number == first and not top_level:
            code = _code(line)
            new = line[: len(line) - len(code)] + "pass" + ending
        else:
            new = ending
        if number == len(lines) - 1 and not line.endswith(("\n", "\r")):
            new = new.rstrip("\r\n")
        if new != line:
            lines[number] = new
            changed = True
    return (first + 1, last) if changed else None
