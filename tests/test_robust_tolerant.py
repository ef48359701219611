"""Error-tolerant linting: a file with syntax errors still gets the findings of the parts that
parse, plus an E999 (CPython's message and line) for each broken part, and is never rewritten.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from zmqlint import tolerant
from zmqlint.engine import FixMode
from zmqlint.rules import rule_for

from conftest import findings_of, lint_tree, write_tree

POOL = """
import zmq

_ctx = zmq.Context.instance()

def get_rep_socket(endpoint, bind=True):
    sock = _ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    if bind:
        sock.bind(endpoint)
    else:
        sock.connect(endpoint)
    return sock
"""

# Line 4 is a half-finished edit (an unclosed call); the class further down is intact.
BROKEN_TOP_LEVEL = """\
import subprocess
import zmq
from pool import get_rep_socket
settings = load_settings(
    "agent.toml",

def detect_gpus():
    try:
        return subprocess.check_output(["nvidia-smi", "-L"]).count(b"GPU")
    except:
        pass
    return 0


class Agent:
    def __init__(self, port, rule):
        self.context = zmq.Context.instance()
        endpoint = f"tcp://127.0.0.1:{port}"
        self.socket = get_rep_socket(endpoint)
        self.socket.bind(endpoint)
        self.check = eval(rule)
"""


def _cpython_error(text: str) -> SyntaxError:
    with pytest.raises(SyntaxError) as info:
        ast.parse(text)
    return info.value


def test_broken_top_level_statement_still_reports_rules_below(tmp_path):
    write_tree(tmp_path, {"pool.py": POOL, "agent.py": BROKEN_TOP_LEVEL})
    result = lint_tree(tmp_path, paths=["agent.py"])
    assert not result.errors
    codes = {(f.code, f.line) for f in result.findings}
    assert ("EXC601", 10) in codes
    assert ("SEC401", 21) in codes
    error = _cpython_error(BROKEN_TOP_LEVEL)
    e999 = findings_of(result, "E999")
    assert e999 and (e999[0].line, e999[0].message) == (error.lineno, f"SyntaxError: {error.msg}")


@pytest.mark.skipif(rule_for("ZMQ101") is None, reason="ZMQ101 (pooled-socket-rebound) not written yet")
def test_broken_file_still_reports_zmq101_in_a_class_further_down(tmp_path):
    write_tree(tmp_path, {"pool.py": POOL, "agent.py": BROKEN_TOP_LEVEL})
    result = lint_tree(tmp_path, paths=["agent.py"])
    assert [(f.line, f.column) for f in findings_of(result, "ZMQ101")] == [(20, 9)]


def test_broken_file_is_never_rewritten(tmp_path):
    write_tree(tmp_path, {"pool.py": POOL, "agent.py": BROKEN_TOP_LEVEL})
    before = (tmp_path / "agent.py").read_bytes()
    result = lint_tree(tmp_path, paths=["agent.py"], fix=FixMode.UNSAFE)
    assert (tmp_path / "agent.py").read_bytes() == before
    assert result.fixes_applied == 0 and result.diff() == ""
    # Findings in a file that cannot be rewritten offer no fix.
    assert all(f.fix is None for f in result.findings)
    assert findings_of(result, "EXC601")


def test_broken_statement_inside_a_method(tmp_path):
    code = """\
        import os

        class Worker:
            def start(self):
                self.values = [1, 2,
                return self.values

            def poll(self):
                try:
                    os.stat("x")
                except:
                    pass

        def run(rule):
            return eval(rule)
        """
    write_tree(tmp_path, {"w.py": code})
    result = lint_tree(tmp_path, paths=["w.py"])
    assert [f.line for f in findings_of(result, "EXC601")] == [11]
    assert [f.line for f in findings_of(result, "SEC401")] == [15]
    assert findings_of(result, "E999")


def test_several_broken_parts_each_get_an_e999(tmp_path):
    code = """\
        def a(:
            pass

        x = eval(name)

        class B:
            def m(self):
                return 1 +

        print "python 2"
        """
    write_tree(tmp_path, {"m.py": code})
    result = lint_tree(tmp_path, paths=["m.py"])
    assert sorted(f.line for f in findings_of(result, "E999")) == [1, 8, 10]
    assert [f.line for f in findings_of(result, "SEC401")] == [4]


def test_repair_keeps_line_count_and_columns():
    text = textwrap.dedent(
        """\
        import os\r
        value = (1,\r
        def f():\r
            eval(s)\r
        class C:\r
            def m(self):\r
                y = [\r
                return 1\r
        """
    )
    parsed = tolerant.parse(text)
    assert parsed.module is not None and parsed.repaired
    assert len(tolerant.split_lines(parsed.text)) == len(tolerant.split_lines(text))
    kept = [i for i, (a, b) in enumerate(zip(tolerant.split_lines(text), tolerant.split_lines(parsed.text))) if a == b]
    assert {0, 2, 3, 4, 5, 7} <= set(kept)  # only the broken statements changed
    ast.parse(parsed.text)


@pytest.mark.parametrize(
    "code",
    [
        'x = """\nunterminated\n',
        "def f(:\n",
        "    indented = 1\n",
        "class C:\n  def m(self):\n      pass\n    bad = 1\n",
        "if x:\npass\n",
        "(((((\n",
        ")\n",
        "@decorator\n",
        "else:\n    pass\n",
        "x = 1 \\\n",
        "\tif x:\n        pass\n",
        "f(**)\n" * 200,
        "async def f():\n    await = 1\n",
        "match x:\n    case 1 +:\n        pass\n",
        "def f():\n    return\n  x\n",
        "lambda: (yield)\nclass A(metaclass=):\n    pass\n",
    ],
)
def test_repair_never_raises_and_reports_a_problem(code):
    parsed = tolerant.parse(code)
    assert parsed.problems or parsed.failure
    if parsed.module is not None:
        ast.parse(parsed.text)
        assert len(tolerant.split_lines(parsed.text)) == len(tolerant.split_lines(code))


def test_index_reads_facts_from_a_broken_module(tmp_path):
    from zmqlint.index import ProjectIndex

    write_tree(tmp_path, {"lib.py": "def helper(:\n    pass\n\nclass Base:\n    def start(self):\n        pass\n"})
    index = ProjectIndex(tmp_path)
    info = index.module_for_path(tmp_path / "lib.py")
    assert info is not None and "Base" in info.classes
