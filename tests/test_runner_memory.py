"""What bounds a run's memory: the index budget, a dropped index freed by reference counting,
and garbage collection handed back as it was found."""

from __future__ import annotations

import gc
import textwrap
from pathlib import Path

import zmqlint.runner as runner
from zmqlint.config import Config
from zmqlint.discovery import discover
from zmqlint.engine import Engine
from zmqlint.runner import run

from conftest import write_tree
from test_parallel import many_files

# A worker class whose thread body shares a list with `send` (THR502: the rule links the
# parents of the function trees it walks), a socket, asyncio: every fact family gets computed.
SERVICE = textwrap.dedent(
    """
    import asyncio
    import threading
    import zmq

    from pkg0.helpers import make


    class Pump:
        def __init__(self):
            self.items = []
            self.ctx = zmq.Context()
            self.sock = self.ctx.socket(zmq.PUSH)
            self.thread = threading.Thread(target=self.run)
            self.thread.start()

        def send(self, item):
            self.items.append(item)

        def run(self):
            while True:
                if self.items:
                    self.sock.send(self.items.pop(0))

        async def later(self):
            await asyncio.sleep(await make())
    """
)


def project(tmp_path: Path) -> Path:
    files = many_files(24)
    files["pkg0/helpers.py"] = "async def make():\n    return 1\n"
    for number in range(4):
        files[f"pkg1/service{number}.py"] = SERVICE
    write_tree(tmp_path, files)
    return tmp_path


def test_a_closed_index_leaves_no_garbage_cycles(tmp_path):
    root = project(tmp_path)
    config = Config.from_table({}, root=root)
    engine = Engine(config)
    for path, shown in discover([str(root)], config).files:
        engine.check_file(path, shown, write=False)
    assert any(r.code == "THR502" for r in engine.check_file(root / "pkg1/service0.py", "s", write=False).findings)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        engine.index.close()
        del engine
        assert gc.collect() == 0  # everything the index held went with reference counting
    finally:
        if was_enabled:
            gc.enable()


def test_a_tiny_index_budget_reports_the_same(tmp_path, monkeypatch):
    root = project(tmp_path)
    config = Config.from_table({}, root=root)
    whole = run([str(root)], config, jobs=1)
    monkeypatch.setattr(runner, "INDEX_BUDGET", 1)  # a fresh index for every file
    dropped = []
    original = runner._Worker._drop_engine

    def counting(worker):
        dropped.append(worker._engine is not None)
        original(worker)

    monkeypatch.setattr(runner._Worker, "_drop_engine", counting)
    tiny = run([str(root)], config, jobs=1)
    assert sum(dropped) >= len(whole.files) // 2  # files no rule reads (empty ones) fill no index
    assert [f.to_json() for f in tiny.findings] == [f.to_json() for f in whole.findings]
    assert {f.code for f in whole.findings} >= {"THR502", "EXC601", "SEC401", "E999"}


def test_a_run_in_this_process_hands_garbage_collection_back_as_it_found_it(tmp_path):
    root = project(tmp_path)
    config = Config.from_table({}, root=root)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    run([str(root)], config, jobs=1)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        run([str(root)], config, jobs=1)
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_new_index_takes_over_the_modules_most_files_used(tmp_path, monkeypatch):
    import zmqlint.index as index_module

    root = project(tmp_path)
    config = Config.from_table({}, root=root)
    whole = run([str(root)], config, jobs=1)
    parsed = []
    original = index_module.parse_module_info

    def counting(path, name, source, tree=None):
        parsed.append(Path(path).name)
        return original(path, name, source, tree)

    monkeypatch.setattr(index_module, "parse_module_info", counting)
    monkeypatch.setattr(runner, "INDEX_BUDGET", 1_200)  # a fresh index after the first service module
    monkeypatch.setattr(runner, "CARRIED_OVER", 0)
    without = run([str(root)], config, jobs=1)
    helpers_without = parsed.count("helpers.py")
    parsed.clear()
    monkeypatch.setattr(runner, "CARRIED_OVER", 400)
    carried = run([str(root)], config, jobs=1)
    # Checked itself and imported by every service module: without a hand-over parsed again
    # by the second index, with one not.
    assert helpers_without == 2
    assert parsed.count("helpers.py") == 1
    for result in (without, carried):
        assert [f.to_json() for f in result.findings] == [f.to_json() for f in whole.findings]


def test_a_text_set_for_a_fix_is_not_handed_over(tmp_path):
    from zmqlint.index import ProjectIndex

    root = project(tmp_path)
    old, new = ProjectIndex(root), ProjectIndex(root)
    helpers = root / "pkg0" / "helpers.py"
    for _ in range(3):
        old.reset_touched()
        old.module_for_path(helpers)
    old.set_source(helpers, "async def make():\n    return 2\n")
    old.module_for_path(helpers)
    old.reset_touched()
    old.hand_over(new, 10_000)
    assert new.source_size == 0 and helpers.resolve() not in new._by_path


def test_chunks_keep_neighbouring_files_together_shorter_towards_the_end_and_the_largest_first(tmp_path):
    sizes = [10] * 40 + [5_000] + [10] * 40 + [3_000]
    tasks = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"m{number:03}.py"
        path.write_text("#" * size)
        tasks.append((number, path, path.name))
    chunks = runner._chunks(tasks, 2)
    assert sorted(task for chunk in chunks for task in chunk) == tasks  # each file once
    assert [chunk[0][0] for chunk in chunks[:2]] == [40, 81]  # larger than a run: first, alone
    runs = chunks[2:]
    flat = [task[0] for chunk in runs for task in chunk]
    assert flat == sorted(flat)  # the rest in path order, neighbours in one chunk
    lengths = [len(chunk) for chunk in runs]
    assert lengths[0] >= 3 and lengths == sorted(lengths, reverse=True) and lengths[-1] == 1  # long runs first


def test_a_module_linted_but_not_kept_for_fixing_is_freed_by_reference_counting(tmp_path):
    """A module linted but not for a fix goes nowhere after its findings: the cycles it sat in
    (the recursive visit, the wrapper and its lazy metadata, the context and its findings) are
    undone, so that dropping the findings frees it without the cyclic collector."""
    import libcst as cst

    root = project(tmp_path)
    target = root / "pkg1" / "service0.py"
    target.write_text(SERVICE + "\n\ndef quiet():\n    try:\n        return 1\n    except Exception:\n        pass\n\n\ndef other():\n    return 2\n")
    engine = Engine(Config.from_table({}, root=root))
    engine.lint_text(target, "s.py", target.read_text(), for_fixing=False)  # the index warmed up
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        findings, module, errors = engine.lint_text(target, "s.py", target.read_text(), for_fixing=False)
        assert not errors and {"EXC601", "THR502"} <= {f.code for f in findings}
        assert any(f.fix is not None for f in findings)
        del findings, module
        gc.collect()
        cycles = [o for o in gc.garbage if isinstance(o, (cst.CSTNode, cst.MetadataWrapper))]
        assert not cycles, cycles[:3]  # the tree went with reference counting
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


def test_visiting_leaves_no_cycle_holding_the_visitors():
    import weakref

    import libcst as cst

    from zmqlint.traversal import visit_read_only

    class Names(cst.BatchableCSTVisitor):
        def __init__(self):
            super().__init__()
            self.seen = []

        def visit_Name(self, node):
            self.seen.append(node.value)

    module = cst.parse_module("a = b + c\n")
    visitor = Names()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        visit_read_only(cst.MetadataWrapper(module), [visitor])
        assert visitor.seen == ["a", "b", "c"]
        ref = weakref.ref(visitor)
        del visitor
        assert ref() is None
    finally:
        if was_enabled:
            gc.enable()
