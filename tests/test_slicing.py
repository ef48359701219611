"""Sliced parsing (`zmqlint.slicing`): when only local rules run on a file, definitions that
hold no candidate are stubs, and the findings are exactly those of the whole file."""

from __future__ import annotations

import ast
import sysconfig
import textwrap
from pathlib import Path

import pytest

from zmqlint import tolerant
from zmqlint.config import Config
from zmqlint.engine import Engine
from zmqlint.model import FixMode
from zmqlint.slicing import sliced_text

STDLIB = Path(sysconfig.get_paths()["stdlib"])

SOURCE = textwrap.dedent(
    '''\
    """A module."""
    import logging
    log = logging.getLogger(__name__)


    @decorator(
        "x",
    )
    def far_away():
        """Nothing to see."""
        return eval("1 + 1")


    class Holder(Base,
                 Mixin):
        """Holds."""
        LIMIT = 3

        def quiet(self):
            text = """
    def not_a_def(): pass
    """
            return text

        async def noisy(self, code):
            try:
                return eval(code)
            except Exception:
                pass

        class Inner: pass


    def counter():
        global hits
        hits = 1


    class OneLine: x = eval(source())


    async def later():
        await thing()
    '''
)


def lines_of(tree: ast.Module, text: str, fragment: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def test_definitions_without_candidates_become_stubs_and_the_rest_keeps_its_place():
    tree = ast.parse(SOURCE)
    keep = [lines_of(tree, SOURCE, f) for f in ("return eval(code)", "global hits", "class OneLine")]
    sliced = sliced_text(SOURCE, tree, keep)
    assert sliced is not None
    before, after = SOURCE.splitlines(keepends=True), sliced.splitlines(keepends=True)
    assert len(before) == len(after)
    sliced_tree = ast.parse(sliced)  # a stub is a valid statement in its block
    # The kept method sits on the same lines and columns, node for node.
    kept = [node for node in ast.walk(tree) if isinstance(node, ast.AsyncFunctionDef) and node.name == "noisy"][0]
    kept_after = [node for node in ast.walk(sliced_tree) if isinstance(node, ast.AsyncFunctionDef) and node.name == "noisy"][0]
    assert ast.dump(kept, include_attributes=True) == ast.dump(kept_after, include_attributes=True)
    # Every top-level and class-level name is still bound, by a stub of the same kind.
    assert [type(s).__name__ + ":" + getattr(s, "name", "") for s in sliced_tree.body] == [
        type(s).__name__ + ":" + getattr(s, "name", "") for s in tree.body
    ]
    holder = [s for s in sliced_tree.body if isinstance(s, ast.ClassDef) and s.name == "Holder"][0]
    assert [type(s).__name__ for s in holder.body] == ["Expr", "Assign", "FunctionDef", "AsyncFunctionDef", "ClassDef"]
    quiet = holder.body[2]
    assert [type(s).__name__ for s in quiet.body] == ["Pass"]  # the stub, where the decorator-less def began
    # The decorated function became a stub on its decorator's line; the string that looked
    # like a def inside `quiet` went with it; the function with `global` stayed whole.
    assert after[lines_of(tree, SOURCE, "@decorator(") - 1] == "def far_away(): pass\n"
    assert "not_a_def" not in sliced
    assert "hits = 1" in sliced
    # A one-line class with a candidate and everything outside definitions are untouched.
    assert "class OneLine: x = eval(source())\n" in sliced and "async def later(): pass\n" in sliced and "log = logging.getLogger(__name__)\n" in sliced


def test_line_endings_and_tabs_are_kept():
    text = "import os\r\nclass A:\r\n\tdef f(self):\r\n\t\treturn 1\r\n\tdef g(self):\r\n\t\treturn eval(os.x)\r\n"
    sliced = sliced_text(text, ast.parse(text), [6])
    assert sliced == "import os\r\nclass A:\r\n\tdef f(): pass\r\n\r\n\tdef g(self):\r\n\t\treturn eval(os.x)\r\n"
    assert sliced_text(text, ast.parse(text), [4, 6]) is None  # nothing to stub


def _lint(engine: Engine, path: Path, text: str):
    return engine.lint_text(path, path.name, text, for_fixing=False)


def test_the_engine_reports_the_same_on_a_sliced_parse(tmp_path):
    target = tmp_path / "service.py"
    target.write_text(SOURCE)
    config = Config.from_table({}, root=tmp_path)
    sliced_findings, module, errors = _lint(Engine(config), target, SOURCE)
    assert module is None and not errors  # only part of the file was parsed: nothing to fix with
    whole, whole_module, _ = Engine(config, use_prefilter=False).lint_text(target, target.name, SOURCE)
    assert whole_module is not None
    assert [f.to_json() for f in sliced_findings] == [f.to_json() for f in whole]
    assert {f.code for f in whole} == {"SEC401", "EXC601"}
    # Fixing parses the whole file: a fix must rewrite the file as it is.
    findings, fix_module, _ = Engine(config, fix_mode=FixMode.SAFE).lint_text(target, target.name, SOURCE)
    assert fix_module is not None and fix_module.code == SOURCE
    assert [f.to_json() for f in findings] == [f.to_json() for f in whole]


def test_a_shadowing_definition_far_away_still_shadows(tmp_path):
    # `eval` defined by the module: its stub still binds the name, so no SEC401.
    text = "def eval(x):\n    return x\n\n\nclass A:\n    def run(self, code):\n        return eval(code)\n"
    target = tmp_path / "m.py"
    target.write_text(text)
    engine = Engine(Config.from_table({}, root=tmp_path))
    assert _lint(engine, target, text)[0] == []


def test_only_local_rules_are_sliced(tmp_path):
    text = "import threading\n\n\ndef f(code):\n    eval(code)\n"
    assert tolerant.parse(text, keep_lines=None).sliced is False
    parsed = tolerant.parse(text + "\n\ndef g():\n    return 1\n", keep_lines=[5])
    assert parsed.sliced and "return 1" not in parsed.module.code


@pytest.mark.timeout(300)
def test_stdlib_slices_compile_and_keep_every_candidate_node_in_place():
    """On a slice of the standard library: each file's sliced text (keeping its SEC401 and
    EXC601 candidates) compiles, and each kept top-level or class-level statement is, node for
    node and position for position, the statement of the whole file."""
    files = sorted(STDLIB.glob("*.py"))[:120]
    sliced_count = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        handlers = [n.lineno for n in ast.walk(tree) if isinstance(n, (ast.ExceptHandler, ast.Global, ast.Nonlocal))]
        sliced = sliced_text(text, tree, handlers)
        if sliced is None:
            continue
        sliced_count += 1
        new_tree = ast.parse(sliced)
        old_statements = {}
        for old in _statements(tree):
            old_statements.setdefault(_first_line(old), []).append(old)
        for stmt in _statements(new_tree):
            # The statement that began on the same line, of the same kind and name.
            old = [o for o in old_statements[_first_line(stmt)] if _kind(o) == _kind(stmt)][0]
            if _is_stub(stmt):
                continue
            if isinstance(stmt, ast.ClassDef):  # a sliced class: its header is the original's
                stmt, old = _header(stmt), _header(old)
            assert ast.dump(stmt, include_attributes=True) == ast.dump(old, include_attributes=True), path
    assert sliced_count >= 20


def _statements(tree: ast.Module):
    for stmt in tree.body:
        yield stmt
        if isinstance(stmt, ast.ClassDef) and not _is_stub(stmt):
            yield from stmt.body


def _kind(stmt: ast.stmt) -> tuple:
    return type(stmt), getattr(stmt, "name", None)


def _first_line(stmt: ast.stmt) -> int:
    return min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])


def _is_stub(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not stmt.decorator_list
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], ast.Pass)
        and stmt.body[0].lineno == stmt.lineno
    )


def _header(cls: ast.ClassDef) -> ast.ClassDef:
    return ast.ClassDef(
        name=cls.name, bases=cls.bases, keywords=cls.keywords, body=[], decorator_list=cls.decorator_list,
        lineno=cls.lineno, col_offset=cls.col_offset, end_lineno=None, end_col_offset=None,
    )
