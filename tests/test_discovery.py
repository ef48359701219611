"""File discovery: the exclude test it uses instead of pathspec's own call gives pathspec's
answer on every path, and the walk finds what `os.walk` would (order, excludes, links)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest

from zmqlint.config import DEFAULT_EXCLUDE, Config
from zmqlint.discovery import _excluder, discover

PATTERN_SETS = [
    DEFAULT_EXCLUDE,
    DEFAULT_EXCLUDE + ["*.pyi", "tests/fixtures/", "/top.py", "a/**/b", "**/gen_*.py", "[Bb]uild*/", "Foo?.py"],
    ["gen/", "*_pb2.py", "docs/**/conf.py"],
    ["*.py", "!keep.py"],  # a negation: pathspec's own precedence rules apply
    ["build/", "!build/keep/"],
    [],
]
NAMES = ["a", "b", "build", "Build1", ".git", "x.egg-info", "tests", "fixtures", "gen", "gen_x.py", "top.py",
         "Foo1.py", "keep", "keep.py", "m.py", "m.pyi", "__pycache__", "node_modules", "docs", "conf.py", "x_pb2.py"]


@pytest.mark.parametrize("patterns", PATTERN_SETS, ids=lambda p: f"{len(p)} patterns")
def test_excluder_agrees_with_pathspec(patterns):
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    excluded = _excluder(spec)
    rnd = random.Random(len(patterns))
    paths = set()
    for _ in range(5000):
        parts = [rnd.choice(NAMES) for _ in range(rnd.randint(1, 5))]
        paths.add("/".join(parts) + ("/" if rnd.random() < 0.3 else ""))
    wrong = [p for p in sorted(paths) if excluded(p) != spec.match_file(p)]
    assert not wrong, wrong[:10]
    assert any(spec.match_file(p) for p in paths) or not patterns


def test_excluder_without_negation_is_one_expression():
    spec = pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDE)
    assert _excluder(spec) != spec.match_file
    negating = pathspec.GitIgnoreSpec.from_lines(["*.py", "!keep.py"])
    assert _excluder(negating) == negating.match_file


def _tree(root: Path) -> None:
    for rel in ["pkg/__init__.py", "pkg/mod.py", "pkg/sub/deep.py", "pkg/stub.pyi", "build/gen.py", "pkg/build/x.py",
                "z.egg-info/setup.py", "notes.txt", "pkg/__pycache__/mod.py", "b/a.py", "a/b.py", "gen/x.py"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    (root / "link.py").symlink_to("pkg/mod.py")  # the same file twice: listed once
    (root / "linked_dir").symlink_to("pkg", target_is_directory=True)  # not entered
    (root / "gone.py").symlink_to("nowhere.py")


def _os_walk_files(root: Path, spec: pathspec.GitIgnoreSpec):
    """What discovery must find, computed with `os.walk` and pathspec directly."""
    found, seen = [], set()
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = [d for d in sorted(dirs) if not spec.match_file(f"{prefix}{d}/")]
        for name in sorted(files):
            path = Path(folder) / name
            if name.endswith((".py", ".pyi")) and not spec.match_file(prefix + name) and path.exists():
                resolved = path.resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    found.append((resolved, os.path.normpath(os.path.join(str(root), prefix + name))))
    return sorted(found, key=lambda item: item[1])


@pytest.mark.parametrize("patterns", [[], ["gen/", "*.pyi"], ["*.py", "!mod.py"]], ids=["defaults", "extra", "negation"])
def test_walk_finds_what_os_walk_finds(tmp_path, patterns):
    _tree(tmp_path)
    config = Config.from_table({"extend-exclude": patterns} if patterns else {}, root=tmp_path)
    result = discover([str(tmp_path)], config)
    assert result.files == _os_walk_files(tmp_path.resolve(), config.exclude_spec)
    dangling = [] if config.exclude_spec.match_file("gone.py") else [str(tmp_path / "gone.py")]
    assert [shown for shown, _ in result.unreadable] == dangling
    shown = [s for _, s in result.files]
    # pkg/mod.py once: through the link (met first) unless the link is excluded
    assert sum(s in shown for s in (str(tmp_path / "link.py"), str(tmp_path / "pkg" / "mod.py"))) == 1
    assert not any("__pycache__" in s or "/build/" in s or "egg-info" in s for s in shown)


def test_quiet_report_imports_no_other_format(tmp_path):
    """``--quiet`` prints with the concise reporter; rich (the text format's library) and the
    other formats are not imported for it."""
    (tmp_path / "m.py").write_text("import pickle\n\ndef f(sock):\n    return pickle.loads(sock.recv())\n")
    code = (
        "import sys\n"
        "from zmqlint.cli import cli\n"
        "try:\n    cli(['--quiet', '--no-cache', '--exit-zero', sys.argv[1]])\n"
        "except SystemExit:\n    pass\n"
        "print('MODULES', sorted(m for m in sys.modules if m.startswith(('rich', 'zmqlint.reporters.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert "SER201" in out.stdout or "SEC" in out.stdout, out.stdout + out.stderr
    modules = out.stdout.rsplit("MODULES", 1)[1]
    assert "rich" not in modules and "junit" not in modules and "concise" in modules, modules
