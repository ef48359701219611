"""Input hygiene: odd encodings, line endings, bytes that are not Python, huge and deep files,
paths that are links, loops, FIFOs, unreadable, missing or not Python at all.

Every case either lints normally, or yields E902 / E999 (never an exception, never a hang);
fixes keep a file's encoding, BOM, line endings and mode, byte for byte outside the rewritten
nodes. The cases that could kill the interpreter (LibCST's native parser on deep input) run in
a subprocess.

Unreadable files and folders: root reads everything, so as root the CLI runs under
``setpriv`` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from its bounding set, which
makes mode 000 binding; without setpriv those two tests are skipped, saying why.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import List, Set

import pytest

from zmqlint.engine import FixMode, compiles

from conftest import lint_tree

# A bare `except: pass` whose safe fix (EXC601) rewrites exactly lines 7-8.
HANDLER = [
    "import logging",
    "logger = logging.getLogger(__name__)",
    "",
    "def poll():",
    "    try:",
    "        step()",
    "    except:",
    "        pass",
]
HANDLER_LINES = {7, 8}
FIXED_HANDLER = [
    "    except Exception as exc:",
    '        logger.warning("Ignored %s in poll: %s", type(exc).__name__, exc, exc_info=True)',
]

_BYTE_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def byte_lines(data: bytes) -> List[bytes]:
    return _BYTE_LINE.findall(data)


def assert_same_outside(before: bytes, after: bytes, changed: Set[int]) -> None:
    """Lines of ``before`` outside ``changed`` (1-based) appear unchanged, in order, in
    ``after``; the line count around them matches."""
    old, new = byte_lines(before), byte_lines(after)
    first, last = min(changed), max(changed)
    assert new[: first - 1] == old[: first - 1]
    tail = len(old) - last
    assert tail == 0 or new[-tail:] == old[-tail:]


def run_cli(args, cwd, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zmqlint", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs
    )


# -- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_pep263_cookie_fix_keeps_encoding(tmp_path, encoding):
    text = (
        f"# -*- coding: {encoding} -*-\n"
        + "\n".join(HANDLER)
        + "\n"
        + 'GREETING = "Grüße, café, naïve — €"\n'
    )
    if encoding == "latin-1":
        text = text.replace("— €", "± ¼")  # latin-1 has neither dash nor euro
    raw = text.encode(encoding)
    (tmp_path / "enc.py").write_bytes(raw)
    result = lint_tree(tmp_path)
    assert [(f.code, f.line) for f in result.findings] == [("EXC601", 8)]
    lint_tree(tmp_path, fix=FixMode.SAFE)
    after = (tmp_path / "enc.py").read_bytes()
    assert after != raw
    fixed = after.decode(encoding)
    assert FIXED_HANDLER[0] in fixed and "Grüße" in fixed
    assert_same_outside(raw, after, {8, 9})
    with pytest.raises(UnicodeDecodeError):
        after.decode("utf-8")  # still in the declared encoding, not re-encoded as UTF-8


def test_bom_and_crlf_kept_by_fix(tmp_path):
    text = "\r\n".join(HANDLER) + "\r\n" + 'NAME = "Zürich"\r\n'
    raw = codecs.BOM_UTF8 + text.encode("utf-8")
    (tmp_path / "bom.py").write_bytes(raw)
    os.chmod(tmp_path / "bom.py", 0o751)
    result = lint_tree(tmp_path)
    assert [(f.code, f.line, f.column) for f in result.findings] == [("EXC601", 7, 5)]
    lint_tree(tmp_path, fix=FixMode.SAFE)
    after = (tmp_path / "bom.py").read_bytes()
    assert after.startswith(codecs.BOM_UTF8) and not after[3:].startswith(codecs.BOM_UTF8)
    assert_same_outside(raw, after, HANDLER_LINES)
    lines = byte_lines(after[3:])
    assert all(line.endswith(b"\r\n") for line in lines), lines
    assert FIXED_HANDLER[0].encode() + b"\r\n" in lines
    assert stat.S_IMODE(os.stat(tmp_path / "bom.py").st_mode) == 0o751


def test_mixed_line_endings_kept_outside_the_fix(tmp_path):
    endings = ["\n", "\r\n", "\n", "\r\n", "\n", "\r\n", "\n", "\n", "\r\n"]
    lines = HANDLER + ["VALUE = 1"]
    raw = "".join(line + end for line, end in zip(lines, endings)).encode()
    (tmp_path / "mixed.py").write_bytes(raw)
    assert [f.line for f in lint_tree(tmp_path).findings] == [7]
    lint_tree(tmp_path, fix=FixMode.SAFE)
    after = (tmp_path / "mixed.py").read_bytes()
    assert_same_outside(raw, after, HANDLER_LINES)
    assert compiles(after.decode())


def test_old_mac_line_endings(tmp_path):
    raw = ("\r".join(HANDLER) + "\r").encode()
    (tmp_path / "cr.py").write_bytes(raw)
    assert [f.line for f in lint_tree(tmp_path).findings] == [7]
    lint_tree(tmp_path, fix=FixMode.SAFE)
    after = (tmp_path / "cr.py").read_bytes()
    assert b"\n" not in after and compiles(after.decode())
    assert_same_outside(raw, after, HANDLER_LINES)


def test_invalid_utf8_is_e902_with_the_line(tmp_path):
    (tmp_path / "bad.py").write_bytes(b"x = 1\ny = 2\nname = 'caf\xe9'\n")
    result = lint_tree(tmp_path)
    [finding] = result.findings
    assert finding.code == "E902"
    assert "utf-8" in finding.message and "0xe9" in finding.message and "line 3" in finding.message


def test_unknown_cookie_and_bom_cookie_conflict_are_e902(tmp_path):
    (tmp_path / "unknown.py").write_bytes(b"# coding: klingon\nx = 1\n")
    (tmp_path / "conflict.py").write_bytes(codecs.BOM_UTF8 + b"# coding: latin-1\nx = 1\n")
    result = lint_tree(tmp_path)
    assert sorted((Path(f.path).name, f.code) for f in result.findings) == [("conflict.py", "E902"), ("unknown.py", "E902")]
    assert all(f.message for f in result.findings)


def test_nul_bytes_are_e902(tmp_path):
    (tmp_path / "nul.py").write_bytes(b"x = 1\n\x00\x00binary\n")
    [finding] = lint_tree(tmp_path).findings
    assert finding.code == "E902" and "NUL" in finding.message


# -- whitespace ---------------------------------------------------------------------------------


def test_tabs_and_form_feeds(tmp_path):
    code = "import logging\nlogger = logging.getLogger(__name__)\n\x0c\ndef poll():\n\ttry:\n\t\tstep()\n\texcept:\n\t\tpass\n\x0c\nx = eval(name)\n"
    (tmp_path / "ws.py").write_text(code)
    result = lint_tree(tmp_path)
    assert [(f.code, f.line) for f in result.findings] == [("EXC601", 7), ("SEC401", 10)]
    lint_tree(tmp_path, fix=FixMode.SAFE)
    after = (tmp_path / "ws.py").read_text()
    assert compiles(after) and after.count("\x0c") == 2 and "\texcept Exception as exc:" in after
    assert_same_outside(code.encode(), after.encode(), {7, 8})


@pytest.mark.parametrize("content", [b"", b"\n\n\n", b"   \n\t\n", codecs.BOM_UTF8, b"# just a comment", b"\x0c"])
def test_empty_and_blank_files(tmp_path, content):
    (tmp_path / "empty.py").write_bytes(content)
    result = lint_tree(tmp_path)
    assert result.findings == [] and not result.errors
    lint_tree(tmp_path, fix=FixMode.UNSAFE)
    assert (tmp_path / "empty.py").read_bytes() == content


# -- size and depth -----------------------------------------------------------------------------


def _big_file(blocks: int) -> str:
    block = "\n".join(
        [
            "class Worker{n}:",
            "    def step(self, items):",
            "        total = 0",
            "        for item in items:",
            "            total += item * {n}",
            "        return total",
            "",
            "",
        ]
    )
    parts = [block.format(n=n) for n in range(blocks)]
    parts.insert(blocks // 2, "def poll():\n    try:\n        step()\n    except:\n        pass\n\n\n")
    return "".join(parts)


@pytest.mark.parametrize(
    "megabytes",
    [
        pytest.param(1, marks=pytest.mark.timeout(660)),
        pytest.param(10, marks=[pytest.mark.slow, pytest.mark.timeout(3600)]),
    ],
)
def test_big_file(tmp_path, megabytes):
    """1 MB on every run; the 10 MB file is slow-marked (LibCST needs about 4 GB of memory
    for it). The time bound is generous (shared CI machines): it catches hangs, not slowness."""
    text = _big_file(7000 * megabytes)
    assert len(text) >= 1_000_000 * megabytes
    (tmp_path / "huge.py").write_text(text)
    limit = 600 * megabytes
    proc = run_cli(["--format", "json", "--no-cache", "huge.py"], tmp_path, timeout=limit)
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)
    assert [f["code"] for f in findings] == ["EXC601"]


DEEP = {
    # LibCST's native parser overflows its stack on this (CPython keeps it flat).
    "and_chain": "x = " + " and ".join(["a"] * 20000) + "\n",
    "elif_chain": "if a:\n    pass\n" + "elif a:\n    pass\n" * 20000,
    # CPython gives up: MemoryError / RecursionError / SyntaxError.
    "unary": "x = " + "-" * 100000 + "1\n",
    "parentheses": "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
    "lambdas": "f = " + "lambda: " * 5000 + "1\n",
    "indentation": "".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass\n",
    # Parses in CPython, too deep for LibCST's visitors; slow in LibCST's parser.
    "subscripts": "x = a" + "[0]" * 2500 + "\n",
    "additions": "x = " + " + ".join(["1"] * 2900) + "\n",
    # Broken and deep at once: the tolerant parser must not hand it to LibCST either.
    "broken_and_deep": "def f(:\n    pass\nx = " + " or ".join(["a"] * 20000) + "\n",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_reported_never_a_crash(tmp_path, name):
    # `eval` makes the SEC rules analyse the file (a valid file no rule is interested in is
    # not parsed by LibCST at all).
    source = "import logging\nx = eval(name)\n" + DEEP[name]
    (tmp_path / "deep.py").write_text(source)
    for args in (["--format", "json"], ["--fix", "--unsafe-fixes", "--format", "json"]):
        proc = run_cli([*args, "--select", "E,EXC,SEC", "deep.py"], tmp_path)
        assert proc.returncode in (0, 1), (proc.returncode, proc.stderr[-2000:])
        codes = {f["code"] for f in json.loads(proc.stdout)}
        assert codes & {"E999", "E902"}, codes
    assert (tmp_path / "deep.py").read_text() == source


# -- paths --------------------------------------------------------------------------------------


def test_symlink_loops_and_broken_links(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "a.py").symlink_to("b.py")
    (tmp_path / "b.py").symlink_to("a.py")
    (tmp_path / "gone.py").symlink_to("nowhere.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..", target_is_directory=True)  # a folder loop
    (tmp_path / "sub" / "m.py").write_text("y = eval(name)\n")
    proc = run_cli(["--format", "json", "."], tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = sorted((f["path"], f["code"]) for f in json.loads(proc.stdout))
    assert found == [("a.py", "E902"), ("b.py", "E902"), ("gone.py", "E902"), ("sub/m.py", "SEC401")]
    for name in ("a.py", "gone.py"):
        proc = run_cli(["--format", "json", name], tmp_path)
        assert proc.returncode == 1, proc.stderr
        [finding] = json.loads(proc.stdout)
        assert finding["code"] == "E902" and "symbolic link" in finding["message"]


def test_fifo_named_like_a_module_is_never_opened(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "ok.py").write_text("x = 1\n")
    for target in (".", "pipe.py"):
        proc = run_cli(["--format", "json", target], tmp_path)  # would block forever if read
        assert proc.returncode == 1, proc.stderr
        [finding] = json.loads(proc.stdout)
        assert (finding["path"], finding["code"]) == ("pipe.py", "E902")


def _unprivileged() -> List[str]:
    """A command prefix under which mode 000 is binding, or skip."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: root reads files of any mode")
    probe = subprocess.run([setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode()[:200]}")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def test_unreadable_file_and_folder_are_e902(tmp_path):
    prefix = _unprivileged()
    (tmp_path / "secret.py").write_text("x = eval(name)\n")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inner.py").write_text("x = eval(name)\n")
    (tmp_path / "ok.py").write_text("y = eval(name)\n")
    os.chmod(tmp_path / "secret.py", 0)
    os.chmod(tmp_path / "locked", 0)
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "zmqlint", "--format", "json", "--no-cache", "."],
            cwd=tmp_path, capture_output=True, text=True, timeout=240,
        )
    finally:
        os.chmod(tmp_path / "secret.py", 0o644)
        os.chmod(tmp_path / "locked", 0o755)
    assert proc.returncode == 1, proc.stderr
    found = sorted((f["path"], f["code"]) for f in json.loads(proc.stdout))
    assert found == [("locked", "E902"), ("ok.py", "SEC401"), ("secret.py", "E902")], proc.stdout
    assert all("ermission" in f["message"] for f in json.loads(proc.stdout) if f["code"] == "E902")


def test_unwritable_file_is_left_and_reported(tmp_path):
    prefix = _unprivileged()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "h.py").write_text("\n".join(HANDLER) + "\n")
    os.chmod(tmp_path / "ro", 0o555)  # the file is writable, its folder is not
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "zmqlint", "--fix", "--no-cache", "ro"],
            cwd=tmp_path, capture_output=True, text=True, timeout=240,
        )
    finally:
        os.chmod(tmp_path / "ro", 0o755)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot write" in proc.stdout + proc.stderr
    assert (tmp_path / "ro" / "h.py").read_text() == "\n".join(HANDLER) + "\n"
    assert not [p for p in (tmp_path / "ro").iterdir() if p.name != "h.py"], "a temporary file was left behind"


def test_path_that_does_not_exist_is_exit_2(tmp_path):
    proc = run_cli(["missing.py"], tmp_path)
    assert proc.returncode == 2
    assert "path does not exist: missing.py" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_non_python_files_named_explicitly_are_skipped_with_a_note(tmp_path):
    (tmp_path / "README.md").write_text("# eval(x)\n")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "tool").write_text("#!/usr/bin/env python3\nx = eval(name)\n")
    proc = run_cli(["--format", "json", "README.md", "data.bin", "tool"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert [(f["path"], f["code"]) for f in json.loads(proc.stdout)] == [("tool", "SEC401")]
    assert "README.md: not a Python file, skipped" in proc.stderr
    assert "data.bin: not a Python file, skipped" in proc.stderr
    text = run_cli(["README.md"], tmp_path)
    assert text.returncode == 0 and "README.md: not a Python file, skipped" in text.stdout + text.stderr


def test_symlinked_file_is_fixed_through_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "h.py").write_text("\n".join(HANDLER) + "\n")
    (tmp_path / "link.py").symlink_to("real/h.py")
    lint_tree(tmp_path, fix=FixMode.SAFE, paths=["link.py"])
    assert (tmp_path / "link.py").is_symlink()
    assert FIXED_HANDLER[0] in (tmp_path / "real" / "h.py").read_text()


def test_fix_keeps_owner_when_run_as_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    (tmp_path / "h.py").write_text("\n".join(HANDLER) + "\n")
    os.chown(tmp_path / "h.py", 65534, 65534)
    lint_tree(tmp_path, fix=FixMode.SAFE)
    st = os.stat(tmp_path / "h.py")
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    assert FIXED_HANDLER[0] in (tmp_path / "h.py").read_text()
