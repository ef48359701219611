"""Parallel runs: the output is byte-identical whatever the number of jobs, fixes included."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

import zmqlint.runner as runner
from zmqlint.config import Config
from zmqlint.model import FixMode
from zmqlint.runner import run

from conftest import write_tree

FLAVOURS = [
    """
    def load(path):
        try:
            return open(path).read()
        except:
            pass
    """,
    """
    def check(value, condition):
        return eval(str(value) + condition)
    """,
    """
    import logging

    def poll(sock):
        while True:
            try:
                sock.recv()
            except Exception:
                continue
    """,
    """
    def add(a, b):
        return a + b
    """,
    """
    def broken(:
        pass
    """,
]


def many_files(count: int = 30) -> Dict[str, str]:
    """``count`` modules in a few packages, each with one of a handful of problems (or none)."""
    files = {"pyproject.toml": "[tool.zmqlint]\n"}
    for number in range(count):
        package = f"pkg{number % 3}"
        files[f"{package}/__init__.py"] = ""
        files[f"{package}/mod{number:02d}.py"] = FLAVOURS[number % len(FLAVOURS)]
    return files


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zmqlint", "--no-cache", *args, "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("output_format", ["json", "text"])
def test_one_job_and_two_jobs_print_the_same_bytes(tmp_path, output_format):
    write_tree(tmp_path, many_files())
    one = cli(tmp_path, "--format", output_format, "--jobs", "1")
    two = cli(tmp_path, "--format", output_format, "--jobs", "2")
    assert one.returncode == two.returncode == 1, (one.stderr, two.stderr)
    assert one.stdout == two.stdout
    assert one.stderr == two.stderr
    assert "E999" in one.stdout and "EXC601" in one.stdout


def test_the_pool_is_used_for_many_files_and_skipped_for_few(tmp_path, monkeypatch):
    used = []
    original = runner._check_in_pool

    def spy(worker, tasks, workers, progress):
        used.append((len(tasks), workers))
        return original(worker, tasks, workers, progress)

    monkeypatch.setattr(runner, "_check_in_pool", spy)
    write_tree(tmp_path, many_files())
    config = Config.from_table({}, root=tmp_path)
    pooled = run([str(tmp_path)], config, jobs=2)
    assert used == [(33, 2)]  # 30 modules and 3 package markers
    alone = run([str(tmp_path)], config, jobs=1)
    assert used == [(33, 2)]
    assert [f.to_json() for f in pooled.findings] == [f.to_json() for f in alone.findings]
    assert [r.display_path for r in pooled.files] == [r.display_path for r in alone.files]
    few = run([str(tmp_path / "pkg0" / "mod00.py"), str(tmp_path / "pkg1" / "mod01.py")], config, jobs=8)
    assert used == [(33, 2)] and len(few.files) == 2


def test_fixing_in_parallel_writes_the_same_files_as_fixing_alone(tmp_path, monkeypatch):
    write_tree(tmp_path / "one", many_files())
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    results = {}
    for name, jobs in (("one", 1), ("two", 2)):
        root = tmp_path / name
        monkeypatch.chdir(root)
        results[name] = run(["."], Config.from_table({}, root=root), fix_mode=FixMode.SAFE, jobs=jobs)
    assert results["one"].fixes_applied == results["two"].fixes_applied > 0
    assert [f.to_json() for f in results["one"].findings] == [f.to_json() for f in results["two"].findings]
    assert results["one"].notes == results["two"].notes
    compared = filecmp.dircmp(tmp_path / "one", tmp_path / "two")
    for folder in [compared, *compared.subdirs.values()]:
        assert not folder.diff_files and not folder.left_only and not folder.right_only
    fixed = (tmp_path / "two" / "pkg0" / "mod00.py").read_text()
    assert "except:" not in fixed


def test_diff_in_parallel_writes_nothing(tmp_path):
    write_tree(tmp_path, many_files())
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.py")}
    result = run([str(tmp_path)], Config.from_table({}, root=tmp_path), fix_mode=FixMode.SAFE, write=False, jobs=2)
    assert result.diff()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.py")} == before


class _Terminal:
    """A stream that says it is a terminal and keeps what is written to it."""

    def __init__(self) -> None:
        self.parts = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_shows_only_on_a_terminal_without_quiet():
    import io

    from zmqlint.progress import ProgressBar

    assert ProgressBar.wanted(quiet=False, stream=_Terminal())
    assert not ProgressBar.wanted(quiet=True, stream=_Terminal())
    assert not ProgressBar.wanted(quiet=False, stream=io.StringIO())


def test_progress_waits_for_the_delay_and_is_erased_at_the_end():
    from zmqlint.progress import ProgressBar

    quick = _Terminal()
    with ProgressBar(quick, delay=3600) as bar:
        bar(1, 10)
    assert quick.parts == []
    slow = _Terminal()
    with ProgressBar(slow, delay=0) as bar:
        bar(1, 10)
        bar(2, 10)
    assert "2/10" in "".join(slow.parts)
