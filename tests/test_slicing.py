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
    tries = [(n.lineno, n.end_lineno) for n in ast.walk(tree) if isinstance(n, ast.Try)]
    keep = tries + [(line, line) for line in (lines_of(tree, SOURCE, "class OneLine"),)]
    sliced = sliced_text(SOURCE, tree, keep, [lines_of(tree, SOURCE, "global hits")])
    assert sliced is not None
    before, after = SOURCE.splitlines(keepends=True), sliced.splitlines(keepends=True)
    assert len(before) == len(after)
    sliced_tree = ast.parse(sliced)  # a stub is a valid statement in its block
    # The method holding the candidate `try` sits on the same lines and columns, node for node.
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
    sliced = sliced_text(text, ast.parse(text), [(6, 6)])
    assert sliced == "import os\r\nclass A:\r\n\tdef f(): pass\r\n\r\n\tdef g(self):\r\n\t\treturn eval(os.x)\r\n"
    assert sliced_text(text, ast.parse(text), [(4, 4), (6, 6)]) is None  # nothing to stub


INSIDE = textwrap.dedent(
    """\
    def handler(request, code):
        \"\"\"Docstring.\"\"\"
        setup(); more()
        for item in request.items:
            if item.ok:
                log(item)
            elif item.retry:
                try:
                    again(item)
                except Exception:
                    report()
            else:
                result = eval(code)
        with opened(
            request,
        ) as handle: handle.read()

        @cached
        def helper(): return 1
        while True: pass
        return result
    """
)


def test_inside_a_function_only_the_way_to_the_candidate_is_kept():
    tree = ast.parse(INSIDE)
    line = lines_of(tree, INSIDE, "result = eval(code)")
    sliced = sliced_text(INSIDE, tree, [(line, line)])
    assert sliced is not None and len(sliced.splitlines()) == len(INSIDE.splitlines())
    assert sliced == textwrap.dedent(
        """\
        def handler(request, code):
            None
            None
            for item in request.items:
                if item.ok:
                    None
                elif item.retry:
                    None



                else:
                    result = eval(code)
            None



            def helper(): pass

            None
            None
        """
    )
    # A block on its header's line is kept with its header.
    text = "def f(x, y):\n    if x: return eval(y)\n    other()\n"
    assert sliced_text(text, ast.parse(text), [(2, 2)]) == "def f(x, y):\n    if x: return eval(y)\n    None\n"


def test_a_handler_whose_body_was_stubbed_is_not_reported_as_silent(tmp_path):
    # The `try` holds no candidate of EXC601 (its handler logs); the eval is SEC401's. With
    # the handler's body stubbed, EXC601 must still see a handler that does something.
    text = "def f(code):\n    try:\n        run()\n    except Exception:\n        log()\n    return eval(code)\n"
    target = tmp_path / "m.py"
    target.write_text(text)
    engine = Engine(Config.from_table({}, root=tmp_path))
    findings = _lint(engine, target, text)[0]
    assert [f.code for f in findings] == ["SEC401"]


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
    assert tolerant.parse(text, keep=None).sliced is False
    parsed = tolerant.parse(text + "\n\ndef g():\n    return 1\n", keep=[(5, 5)])
    assert parsed.sliced and "return 1" not in parsed.module.code


@pytest.mark.timeout(300)
def test_stdlib_slices_compile_and_keep_every_candidate_node_in_place():
    """On a slice of the standard library, with every third `try` statement as a candidate:
    each file's sliced text compiles, keeps its lines, holds every candidate node for node and
    position for position, and keeps every top-level statement other than a definition."""
    files = sorted(STDLIB.glob("*.py"))[:120]
    sliced_count = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        candidates = [n for n in ast.walk(tree) if isinstance(n, ast.Try)][::3]
        globals_ = [n.lineno for n in ast.walk(tree) if isinstance(n, (ast.Global, ast.Nonlocal))]
        sliced = sliced_text(text, tree, [(n.lineno, n.end_lineno) for n in candidates], globals_)
        if sliced is None:
            continue
        sliced_count += 1
        assert len(sliced.splitlines()) == len(text.splitlines()), path
        new_tree = ast.parse(sliced)
        kept = {(n.lineno, n.col_offset): n for n in ast.walk(new_tree) if isinstance(n, ast.Try)}
        for node in candidates:
            twin = kept[(node.lineno, node.col_offset)]
            assert ast.dump(twin, include_attributes=True) == ast.dump(node, include_attributes=True), path
        top = [ast.dump(n, include_attributes=True) for n in tree.body if not isinstance(n, _DEFS)]
        assert top == [ast.dump(n, include_attributes=True) for n in new_tree.body if not isinstance(n, _DEFS)], path
    assert sliced_count >= 20


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


BROKEN = SOURCE + "\n\ndef broken(:\n    return 1\n"


def test_a_repaired_file_is_sliced_and_reports_the_same(tmp_path):
    """A file that does not parse is repaired (its broken statement set aside), then sliced
    like a file that parses: the same findings and E999s as the whole repaired text gives."""
    target = tmp_path / "service.py"
    target.write_text(BROKEN)
    config = Config.from_table({}, root=tmp_path)
    engine = Engine(config)
    sliced_findings, module, errors = _lint(engine, target, BROKEN)
    assert module is None and not errors
    whole, _, _ = Engine(config, use_prefilter=False).lint_text(target, target.name, BROKEN, for_fixing=False)
    assert [f.to_json() for f in sliced_findings] == [f.to_json() for f in whole]
    assert {f.code for f in whole} == {"SEC401", "EXC601", "E999"}
    assert all(f.fix is None for f in sliced_findings)  # a repaired file is never rewritten
    # What the rules saw was the sliced repaired text.
    repair = engine.index.module_for_path(target).repair
    parsed = tolerant.parse(BROKEN, keep=[(n, n) for n in range(1, 3)], repair=repair)
    assert parsed.sliced and parsed.repaired and parsed.problems == repair.problems
    assert len(parsed.text.splitlines()) == len(BROKEN.splitlines())


def test_a_repair_keeps_the_tree_of_its_text():
    repair = tolerant.repair_text(BROKEN)
    assert repair is not None and repair.tree is not None
    assert ast.dump(repair.tree, include_attributes=True) == ast.dump(ast.parse(repair.text), include_attributes=True)
