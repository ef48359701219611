"""The result cache: a warm run reports exactly what a cold one does, and re-checks a file when
its content, anything it depends on, the configuration or zmqlint itself changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

import zmqlint.cache as cache_module
import zmqlint.runner as runner
from zmqlint.config import Config
from zmqlint.index import ProjectIndex
from zmqlint.model import FixMode
from zmqlint.rules import rule_for
from zmqlint.runner import run

from conftest import write_tree

SERVER_SYNC = """
    import threading

    class Server:
        def __init__(self, port):
            self.port = port

        def start(self):
            self.thread = threading.Thread(target=self.serve, daemon=True)
            self.thread.start()

        def serve(self):
            pass
    """

APP = """
    import asyncio

    from transport.server import Server


    class App:
        def __init__(self):
            self.server = Server(5555)

        async def start(self):
            self.task = asyncio.create_task(self.server.start(), name="server")
    """

HANDLERS = """
    def load(path):
        try:
            return open(path).read()
        except:
            pass
    """

CLEAN = """
    def add(a, b):
        return a + b
    """


@pytest.fixture
def checked(monkeypatch) -> List[str]:
    """The display paths the engine actually checked (cache misses), in order."""
    seen: List[str] = []
    original = runner._Worker.check

    def check(self, path, shown):
        seen.append(Path(shown).name)
        return original(self, path, shown)

    monkeypatch.setattr(runner._Worker, "check", check)
    return seen


def lint(root: Path, *, table=None, fix_mode=FixMode.NONE, **kwargs):
    config = Config.from_table(dict(table or {}), root=root)
    return run([str(root)], config, fix_mode=fix_mode, use_cache=True, **kwargs)


def report(result) -> list:
    return [f.to_json() for f in result.findings]


def test_warm_run_reports_what_the_cold_run_did_without_checking_anything(tmp_path, checked):
    write_tree(tmp_path, {"handlers.py": HANDLERS, "clean.py": CLEAN})
    cold = lint(tmp_path)
    assert sorted(checked) == ["clean.py", "handlers.py"]
    assert [f.code for f in cold.findings] == ["EXC601"]
    checked.clear()
    warm = lint(tmp_path)
    assert checked == []
    assert report(warm) == report(cold)
    assert [f.fix.to_json() for f in warm.findings] == [f.fix.to_json() for f in cold.findings]
    assert (tmp_path / ".zmqlint_cache" / "CACHEDIR.TAG").is_file()


def test_cached_findings_carry_the_path_as_named_in_this_run(tmp_path, monkeypatch):
    write_tree(tmp_path, {"pkg/handlers.py": HANDLERS})
    lint(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = Config.from_table({}, root=tmp_path)
    warm = run(["pkg"], config, use_cache=True)
    assert [f.path for f in warm.findings] == [os.path.join("pkg", "handlers.py")]


def test_a_changed_file_is_checked_again_and_only_it(tmp_path, checked):
    write_tree(tmp_path, {"handlers.py": HANDLERS, "clean.py": CLEAN})
    lint(tmp_path)
    checked.clear()
    (tmp_path / "handlers.py").write_text("def load(path):\n    return open(path).read()\n")
    warm = lint(tmp_path)
    assert checked == ["handlers.py"]
    assert warm.findings == []


def test_a_configuration_change_checks_everything_again(tmp_path, checked):
    write_tree(tmp_path, {"handlers.py": HANDLERS, "clean.py": CLEAN})
    lint(tmp_path)
    checked.clear()
    warm = lint(tmp_path, table={"ignore": ["EXC601"]})
    assert sorted(checked) == ["clean.py", "handlers.py"]
    assert warm.findings == []
    checked.clear()
    lint(tmp_path, table={"ignore": ["EXC601"]})
    assert checked == []


def test_another_zmqlint_version_checks_everything_again(tmp_path, checked, monkeypatch):
    write_tree(tmp_path, {"handlers.py": HANDLERS})
    lint(tmp_path)
    checked.clear()
    monkeypatch.setattr(cache_module, "__version__", "999.0")
    lint(tmp_path)
    assert checked == ["handlers.py"]


@pytest.mark.skipif(rule_for("ASY301") is None, reason="ASY301 (task-from-sync-call) is not in the tree yet")
def test_a_dependency_change_drops_the_finding_that_depended_on_it(tmp_path, checked):
    write_tree(tmp_path, {"transport/__init__.py": "", "transport/server.py": SERVER_SYNC, "app.py": APP})
    cold = lint(tmp_path, table={"select": ["ASY301"]})
    assert [(Path(f.path).name, f.code) for f in cold.findings] == [("app.py", "ASY301")]
    checked.clear()
    server = tmp_path / "transport" / "server.py"
    server.write_text(server.read_text().replace("    def start(self):", "    async def start(self):"))
    warm = lint(tmp_path, table={"select": ["ASY301"]})
    assert "app.py" in checked and "server.py" in checked
    assert warm.findings == []


def test_a_fact_reused_for_another_file_carries_the_files_it_was_computed_from(tmp_path):
    # `a.py` is checked first: working out Base's ancestors reads root.py. `b.py` reuses that
    # answer from the index's memo, and must still depend on root.py (else editing root.py
    # would leave b.py's cached findings standing).
    write_tree(
        tmp_path,
        {
            "root.py": "class Root:\n    pass\n",
            "base.py": "from root import Root\n\nclass Base(Root):\n    pass\n",
            "a.py": "from base import Base\n\nclass A(Base):\n    pass\n",
            "b.py": "from base import Base\n\nclass B(Base):\n    pass\n",
        },
    )
    index = ProjectIndex(tmp_path)
    index.reset_touched()
    first = index.module_for_path(tmp_path / "a.py")
    assert [c.name for c in index.mro(first.classes["A"])] == ["A", "Base", "Root"]
    index.reset_touched()
    second = index.module_for_path(tmp_path / "b.py")
    assert [c.name for c in index.mro(second.classes["B"])] == ["B", "Base", "Root"]
    assert {p.name for p in index.touched} == {"b.py", "base.py", "root.py"}


def test_a_corrupt_cache_is_ignored_and_replaced(tmp_path, checked):
    write_tree(tmp_path, {"handlers.py": HANDLERS})
    cold = lint(tmp_path)
    (entries,) = (tmp_path / ".zmqlint_cache").glob("results-*.json")
    for garbage in (b"\x00\xff not json", b"[1, 2]", json.dumps({"schema": 1, "key": "x"}).encode(), b""):
        entries.write_bytes(garbage)
        checked.clear()
        again = lint(tmp_path)
        assert checked == ["handlers.py"]
        assert report(again) == report(cold)
    data = json.loads(entries.read_bytes())
    data["results"][str((tmp_path / "handlers.py").resolve())]["findings"] = [{"line": "nonsense"}]
    entries.write_text(json.dumps(data))
    assert report(lint(tmp_path)) == report(cold)


def test_an_unwritable_cache_folder_is_not_an_error(tmp_path):
    write_tree(tmp_path, {"handlers.py": HANDLERS})
    (tmp_path / ".zmqlint_cache").write_text("a file where the folder would go")
    result = lint(tmp_path)
    assert not result.errors and [f.code for f in result.findings] == ["EXC601"]


def test_the_cache_dir_setting_moves_the_cache(tmp_path):
    write_tree(tmp_path, {"handlers.py": HANDLERS})
    lint(tmp_path, table={"cache-dir": "build/lint-cache"})
    assert list((tmp_path / "build" / "lint-cache").glob("results-*.json"))
    assert not (tmp_path / ".zmqlint_cache").exists()


def test_fix_mode_checks_again_a_cached_file_with_fixable_findings(tmp_path, checked):
    write_tree(tmp_path, {"handlers.py": HANDLERS, "clean.py": CLEAN})
    lint(tmp_path)
    checked.clear()
    fixed = lint(tmp_path, fix_mode=FixMode.SAFE)
    assert checked == ["handlers.py"]  # clean.py has nothing to fix: its cached result stands
    assert fixed.fixes_applied == 1
    assert "except:" not in (tmp_path / "handlers.py").read_text()
    checked.clear()
    assert lint(tmp_path).findings == [] and checked == ["handlers.py"]


def test_concurrent_saves_keep_both_runs_entries(tmp_path):
    write_tree(tmp_path, {"a.py": HANDLERS, "b.py": CLEAN})
    config = Config.from_table({}, root=tmp_path)
    first = cache_module.ResultCache.for_config(config)
    second = cache_module.ResultCache.for_config(config)
    for cache, name in ((first, "a.py"), (second, "b.py")):
        path = (tmp_path / name).resolve()
        assert cache.lookup(path, name) is None
        cache.store(run([str(path)], config).files[0])
    first.save()
    second.save()
    third = cache_module.ResultCache.for_config(config)
    assert third.lookup((tmp_path / "a.py").resolve(), "a.py") is not None
    assert third.lookup((tmp_path / "b.py").resolve(), "b.py") is not None


def test_cli_no_cache_writes_no_cache_and_the_warm_run_matches(tmp_path):
    write_tree(tmp_path, {"pyproject.toml": "[tool.zmqlint]\n", "handlers.py": HANDLERS, "clean.py": CLEAN})

    def cli(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "zmqlint", "--format", "json", *args, "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        return proc.stdout

    fresh = cli("--no-cache")
    assert not (tmp_path / ".zmqlint_cache").exists()
    assert cli() == fresh
    assert (tmp_path / ".zmqlint_cache").is_dir()
    assert cli() == fresh
