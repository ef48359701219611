"""Safety of the analyzer: analysed code is read, never imported or executed.

The tree below is booby-trapped: every module creates a marker file when imported or run —
top-level code, a package ``__init__``, ``conftest.py``, ``setup.py``, ``__main__.py``, a
``.pth`` file, ``sitecustomize``, and modules named like the standard-library and third-party
modules zmqlint itself imports, some lazily (``inspect``, ``dataclasses``, ``json``, ``difflib``,
``tokenize``, ``libcst``, ``zmq``, ...). Every command runs in that tree as its current folder,
both as the ``zmqlint`` script and as ``python -m zmqlint`` (which puts the current folder
first on ``sys.path``; `zmqlint.__main__` takes it off before importing anything): no marker
may appear. (A ``zmqlint.py`` in the current folder would still be run by ``python -m zmqlint``
itself, before any zmqlint code: that is the interpreter's doing; ``python -P -m zmqlint`` or
the ``zmqlint`` script avoid it.)

zmqlint does not use astroid today (the project index reads `ast` only); should a rule start
to, `test_astroid_never_imports_analysed_code` holds it to astroid's safe settings.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zmqlint.config import Config
from zmqlint.engine import FixMode
from zmqlint.runner import run

SHADOWED = [
    "inspect", "dataclasses", "json", "difflib", "tokenize", "ast", "enum", "typing", "textwrap",
    "tomllib", "tomli", "pathspec", "click", "rich", "libcst", "zmq", "msgpack", "astroid",
    "threading", "abc", "hashlib", "pickle", "shutil", "tempfile", "concurrent", "multiprocessing",
    "sitecustomize", "usercustomize", "conftest", "setup", "__main__", "zmqlint_runtime",
]


def build_trap(root: Path, markers: Path) -> None:
    def trap(name: str) -> str:
        return f"open({str(markers / name)!r}, 'w').close()\n"

    for module in SHADOWED:
        (root / f"{module}.py").write_text(trap(module))
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text(trap("pkg.__init__"))
    # Findings with fixes, so the fix path (compile checks included) runs over trapped code.
    (root / "pkg" / "agent.py").write_text(
        trap("pkg.agent")
        + "import logging\nimport subprocess\nlogger = logging.getLogger(__name__)\n\n"
        + "def poll():\n    try:\n        subprocess.check_output(['true'])\n    except:\n        pass\n\n"
        + "def check(rule):\n    return eval(rule)\n"
    )
    (root / "pkg" / "broken.py").write_text(trap("pkg.broken") + "def f(:\n    pass\nx = eval(y)\n")
    (root / "trap.pth").write_text("import os; " + trap("pth").strip() + "\n")
    (root / "pyproject.toml").write_text("[tool.zmqlint]\nselect = ['E', 'EXC', 'SEC', 'ZMQ', 'SER', 'ASY', 'THR']\n")


COMMANDS = [
    ["check", "."],
    ["--format", "json", "."],
    ["--format", "sarif", "."],
    ["--format", "github", "."],
    ["--diff", "--unsafe-fixes", "."],
    ["--fix", "--unsafe-fixes", "."],
    ["rules"],
    ["rule", "SEC401"],
]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("launcher", ["script", "module"])
def test_commands_never_run_analysed_code(tmp_path, launcher):
    root, markers = tmp_path / "tree", tmp_path / "markers"
    root.mkdir()
    markers.mkdir()
    build_trap(root, markers)
    if launcher == "script":
        script = shutil.which("zmqlint")
        if script is None:
            pytest.skip("the zmqlint script is not installed")
        prefix = [script]
    else:
        prefix = [sys.executable, "-m", "zmqlint"]
    for args in COMMANDS:
        proc = subprocess.run([*prefix, *args], cwd=root, capture_output=True, text=True, timeout=600)
        assert proc.returncode in (0, 1), (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, proc.stderr
        assert sorted(p.name for p in markers.iterdir()) == [], f"`zmqlint {' '.join(args)}` ran analysed code"
    fixed = (root / "pkg" / "agent.py").read_text()
    assert "except:" not in fixed  # the fixes did run


def test_astroid_never_imports_analysed_code(tmp_path):
    """In-process run over the trap; nothing from the tree ends up in `sys.modules`, and if
    astroid was loaded it keeps its safe settings."""
    root, markers = tmp_path / "tree", tmp_path / "markers"
    root.mkdir()
    markers.mkdir()
    build_trap(root, markers)
    before = set(sys.modules)
    run([str(root)], Config.from_table({}, root=root), fix_mode=FixMode.UNSAFE)
    assert sorted(p.name for p in markers.iterdir()) == []
    for name in set(sys.modules) - before:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        assert not origin.startswith(str(root)), f"{name} was imported from the analysed tree"
    if "astroid" in sys.modules:
        from astroid import MANAGER

        assert not MANAGER.always_load_extensions
        assert not MANAGER.extension_package_whitelist
