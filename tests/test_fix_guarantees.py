"""The guarantees every fix keeps: it compiles or is dropped, it is idempotent, and the file
keeps its encoding, BOM, line endings, mode and everything outside the rewritten nodes."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import libcst as cst

from zmqlint.config import Config
from zmqlint.engine import Engine, FixMode
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Rule
from zmqlint.runner import run

BUGGY = 'import json\n\n# keep me\ndef f(raw):\n    try:\n        return json.loads(raw)   # odd  spacing kept\n    except:\n        pass\n'


def fix_file(path: Path, mode: FixMode = FixMode.SAFE):
    config = Config.from_table({}, root=path.parent)
    return run([str(path)], config, fix_mode=mode)


def test_crlf_endings_are_kept(tmp_path):
    path = tmp_path / "crlf.py"
    path.write_bytes(BUGGY.replace("\n", "\r\n").encode())
    fix_file(path)
    data = path.read_bytes()
    assert b"logging" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"return json.loads(raw)   # odd  spacing kept\r\n" in data
    assert b"# keep me\r\n" in data


def test_bom_is_kept(tmp_path):
    path = tmp_path / "bom.py"
    path.write_bytes(codecs.BOM_UTF8 + BUGGY.replace("keep me", "keep mé").encode("utf-8"))
    fix_file(path)
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and not data[3:].startswith(codecs.BOM_UTF8)
    assert "keep mé".encode() in data
    assert b"except Exception as exc:" in data


def test_latin1_cookie_is_kept(tmp_path):
    path = tmp_path / "latin.py"
    source = "# -*- coding: latin-1 -*-\n" + BUGGY.replace("keep me", "caf\xe9")
    path.write_bytes(source.encode("latin-1"))
    fix_file(path)
    data = path.read_bytes()
    assert data.startswith(b"# -*- coding: latin-1 -*-\n")
    assert b"caf\xe9" in data  # still latin-1, not UTF-8
    assert b"except Exception as exc:" in data
    compile(data, str(path), "exec")


def test_mode_bits_are_kept(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(BUGGY)
    os.chmod(path, 0o751)
    fix_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o751
    assert "except Exception" in path.read_text()


def test_everything_outside_the_rewritten_nodes_is_byte_for_byte(tmp_path):
    path = tmp_path / "keep.py"
    path.write_text(BUGGY)
    fix_file(path)
    after = path.read_text()
    assert after.startswith("import json\nimport logging\n\n# keep me\ndef f(raw):\n    try:\n        return json.loads(raw)   # odd  spacing kept\n")


def test_unparsable_file_is_reported_and_untouched(tmp_path):
    path = tmp_path / "broken.py"
    data = b"def f(:\n    try:\n        x()\n    except:\n        pass\n"
    path.write_bytes(data)
    result = fix_file(path, FixMode.UNSAFE)
    assert [f.code for f in result.findings][:1] == ["E999"]
    assert result.findings[0].line == 1
    assert path.read_bytes() == data


def test_no_temporary_files_are_left_behind(tmp_path):
    path = tmp_path / "a.py"
    path.write_text(BUGGY)
    fix_file(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


class _BreaksTheFile(Rule):
    """Test rule whose fix turns `pass` at module level into `return` (does not compile)."""

    CODE = "EXC601"  # borrows a real code so configuration accepts it
    NAME = "test-breaks-the-file"
    SEVERITY = Severity.LOW
    MESSAGE = "module-level pass"

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if isinstance(node.body[0], cst.Pass) and node.leading_lines is not None:
            self.report(
                node,
                fix=Fix("return instead", Applicability.SAFE, {node: node.with_changes(body=[cst.Return()])}),
            )


def test_a_fix_that_would_not_compile_is_dropped_and_reported(tmp_path):
    path = tmp_path / "m.py"
    data = "x = 1\npass\n"
    path.write_text(data)
    engine = Engine(Config.from_table({}, root=tmp_path), fix_mode=FixMode.SAFE)
    engine.rules = [_BreaksTheFile]
    result = engine.check_file(path, "m.py")
    assert path.read_text() == data
    assert result.fixes_applied == 0
    assert any("would not compile" in note for note in result.notes)
    assert [f.code for f in result.findings] == ["EXC601"]


def test_concurrent_change_between_read_and_write_is_not_overwritten(tmp_path):
    from zmqlint.source import ConcurrentModification, SourceFile

    path = tmp_path / "c.py"
    path.write_text("a = 1\n")
    source = SourceFile.read(path)
    path.write_text("a = 2  # edited meanwhile\n")
    try:
        source.write("a = 3\n")
    except ConcurrentModification:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected ConcurrentModification")
    assert path.read_text() == "a = 2  # edited meanwhile\n"


def test_a_relative_import_left_unused_by_a_fix_is_removed(tmp_path):
    from conftest import write_tree

    write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/pools/__init__.py": "",
            "pkg/pools/sp.py": """
                import zmq

                def get_rep_socket(endpoint, context=None):
                    sock = (context or zmq.Context.instance()).socket(zmq.REP)
                    sock.bind(endpoint)
                    return sock
                """,
            "pkg/agents/__init__.py": "",
            "pkg/agents/a.py": """
                import zmq
                from ..pools.sp import get_rep_socket

                class Agent:
                    def __init__(self, endpoint):
                        self.context = zmq.Context()
                        self.sock = get_rep_socket(endpoint, context=self.context)
                        self.sock.bind(endpoint)
                """,
        },
    )
    run([str(tmp_path / "pkg")], Config.from_table({}, root=tmp_path), fix_mode=FixMode.SAFE)
    fixed = (tmp_path / "pkg/agents/a.py").read_text()
    assert "self.sock = self.context.socket(zmq.REP)" in fixed
    assert "get_rep_socket" not in fixed
