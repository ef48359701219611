"""Concurrent runs: two ``zmqlint --fix`` processes on one tree, and files edited while a fix
runs.

Guarantee: every file ends either untouched or holding one complete fixed version (never
truncated, never a mix of two), no temporary file is left behind, and a file that changed on
disk after it was read is not overwritten but reported.

How (zmqlint.source.atomic_replace): the fixed text goes to a temporary file in the same folder,
then one ``os.replace``. Just before the replace, under an exclusive ``flock`` on the folder,
the file must still hold exactly the bytes the fix was computed from, else the file is left
alone and reported. The lock makes check-and-replace atomic between zmqlint processes. The
residual race is with writers that do not take the lock (an editor, ``sed -i``): a write that
lands between the check and the rename (a few system calls) is lost, and a process that had
the file open before the rename keeps writing to the old inode. Renaming also gives the path a
new inode, so hard links to the old file keep the old content.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zmqlint.config import Config
from zmqlint.engine import Engine, FixMode, compiles
from zmqlint.runner import run
from zmqlint.source import ConcurrentModification, SourceFile

HANDLER = """\
import logging
import subprocess
logger = logging.getLogger(__name__)

def poll_{n}():
    try:
        subprocess.check_output(["true"])
    except:
        pass
    return {n}
"""


def make_tree(root: Path, count: int) -> None:
    for n in range(count):
        folder = root / f"pkg{n % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{n}.py").write_text(HANDLER.format(n=n))


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fixed_versions(root: Path, tmp: Path) -> dict:
    """For each file: the texts after --fix and after --fix --unsafe-fixes alone."""
    versions = {rel: {data} for rel, data in snapshot(root).items()}
    for flags in (["--fix"], ["--fix", "--unsafe-fixes"]):
        copy = tmp / ("copy" + "".join(flags))
        shutil.copytree(root, copy)
        subprocess.run([sys.executable, "-m", "zmqlint", *flags, "--no-cache", "-q", "."], cwd=copy, capture_output=True, timeout=600)
        for rel, data in snapshot(copy).items():
            if rel in versions:
                versions[rel].add(data)
    return versions


@pytest.mark.timeout(900)
def test_two_fix_processes_on_one_tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root, 24)
    allowed = fixed_versions(root, tmp_path)
    assert all(len(v) == 3 for v in allowed.values()), "the safe and unsafe fixes should differ"
    original = snapshot(root)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "zmqlint", *flags, "--no-cache", "-q", "."],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for flags in (["--fix"], ["--fix", "--unsafe-fixes"])
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode in (0, 1), err
        assert "Traceback" not in err
    after = snapshot(root)
    assert set(after) == set(original), "files appeared or vanished (temporary files left?)"
    for rel, data in after.items():
        assert data in allowed[rel], f"{rel} is neither untouched nor one complete fix:\n{data.decode()}"
        assert compiles(data.decode())
    assert any(after[rel] != original[rel] for rel in after), "neither process fixed anything"


def test_write_refuses_a_file_changed_since_it_was_read(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    source = SourceFile.read(path)
    path.write_text("x = 2  # edited meanwhile\n")
    with pytest.raises(ConcurrentModification):
        source.write("x = 3\n")
    assert path.read_text() == "x = 2  # edited meanwhile\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"], "temporary file left behind"


def test_run_skips_and_reports_a_file_edited_during_the_fix(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(HANDLER.format(n=1))
    (tmp_path / "b.py").write_text(HANDLER.format(n=2))
    real_check = Engine.check_file

    def check_then_edit(self, path, display_path, *, write=True):
        result = real_check(self, path, display_path, write=write)
        if Path(path).name == "a.py":  # an editor saves a.py after zmqlint read it
            Path(path).write_text(HANDLER.format(n=1) + "# saved by an editor\n")
        return result

    monkeypatch.setattr(Engine, "check_file", check_then_edit)
    config = Config.from_table({}, root=tmp_path)
    result = run([str(tmp_path)], config, fix_mode=FixMode.SAFE)
    assert (tmp_path / "a.py").read_text() == HANDLER.format(n=1) + "# saved by an editor\n"
    assert "except Exception as exc:" in (tmp_path / "b.py").read_text()
    assert any("a.py" in note and "changed on disk" in note for note in result.notes), result.notes
    assert [f.code for f in result.findings if f.path.endswith("a.py")] == ["EXC601"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["a.py", "b.py"]


def test_the_lock_serialises_check_and_replace(tmp_path):
    """While one process holds the folder lock, another cannot replace a file there."""
    fcntl = pytest.importorskip("fcntl")
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from zmqlint.source import SourceFile; "
                "s = SourceFile.read(sys.argv[1]); s.write('x = 2\\n')",
                str(path),
            ]
        )
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=5)  # blocked on the lock
        assert path.read_text() == "x = 1\n"
    finally:
        os.close(fd)  # releases the lock
    assert child.wait(timeout=120) == 0
    assert path.read_text() == "x = 2\n"
