"""Where the thread rules must and must not fire: the sample fleet, the standard library's
threading-heavy modules, and shapes that span classes and modules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from zmqlint.engine import FixMode, compiles
from zmqlint.facts.threads import thread_starts
from zmqlint.index import ProjectIndex

from conftest import REPO, findings_of, lint_tree, write_tree

FLEET = REPO / "fixtures" / "agent_fleet"
THR = ["THR501", "THR502", "THR503", "THR504"]


def fleet_rows():
    """(code, file, first line, last line, marker) of every THR row of the fleet's BUGS.md."""
    rows = []
    for line in (FLEET / "BUGS.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and cells[1].startswith("THR"):
            first, _, last = cells[4].partition("-")
            rows.append((cells[1].split()[0], cells[3], int(first), int(last or first), cells[5].strip("`")))
    return rows


needs_fleet = pytest.mark.skipif(not (FLEET / "BUGS.md").is_file(), reason="the sample fleet is not there")


@needs_fleet
def test_fleet_thread_bugs_are_found_exactly(tmp_path):
    rows = fleet_rows()
    assert {row[0] for row in rows} == set(THR)
    shutil.copytree(FLEET, tmp_path / "agent_fleet")
    result = lint_tree(tmp_path, select=THR)
    assert not result.errors
    found = sorted(
        (f.code, Path(f.path).resolve().relative_to((tmp_path / "agent_fleet").resolve()).as_posix(), f.line)
        for f in result.findings
    )
    assert len(found) == len(rows), found
    for code, path, first, last, marker in rows:
        hits = [f for f in found if f[0] == code and f[1] == path]
        assert len(hits) == 1, (code, path, found)
        assert first <= hits[0][2] <= last, (code, path, hits, first, last)
        source_lines = (FLEET / path).read_text(encoding="utf-8").splitlines()
        assert any(marker in text for text in source_lines[first - 1 : last]), marker


FLEET_VOICE_DRIVER = """
import json, time
from agent_fleet.agents.face_recognition_agent import FaceRecognitionAgent
agent = FaceRecognitionAgent({port})
agent.start()
agent.handle_request({{"action": "enqueue_voice", "samples": [0.1, 0.2, 0.3, 0.4]}})
deadline = time.monotonic() + 5
while agent.voice_chunks_processed < 1 and time.monotonic() < deadline:
    time.sleep(0.01)
agent.stop()
print(json.dumps({{"processed": agent.voice_chunks_processed, "voice_thread_alive": agent._voice_thread.is_alive()}}))
"""


@pytest.mark.slow
@needs_fleet
def test_fixed_fleet_voice_agent_stops_its_worker(tmp_path):
    from conftest import free_port

    for name in ("buggy", "fixed"):
        shutil.copytree(FLEET, tmp_path / name / "agent_fleet")
    result = lint_tree(tmp_path / "fixed", select=THR, fix=FixMode.UNSAFE)
    assert findings_of(result) == []
    for path in (tmp_path / "fixed").rglob("*.py"):
        assert compiles(path.read_text(encoding="utf-8")), path

    def run(folder):
        proc = subprocess.run(
            [sys.executable, "-c", FLEET_VOICE_DRIVER.format(port=free_port())],
            cwd=folder,
            env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    assert run(tmp_path / "buggy") == {"processed": 1, "voice_thread_alive": True}
    assert run(tmp_path / "fixed") == {"processed": 1, "voice_thread_alive": False}


# -- the standard library ------------------------------------------------------------------------


@pytest.mark.slow
def test_silent_on_the_standard_librarys_threading_modules(tmp_path):
    """concurrent.futures, queue, socketserver and threading are full of threads, stop paths
    and loops, all of them correct: no thread finding there. Their shapes are seen (the
    checks are not vacuous): socketserver's ThreadingMixIn and concurrent.futures' thread
    pool start thread bodies the rules analyse."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(stdlib / "concurrent", tmp_path / "concurrent", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("queue.py", "socketserver.py", "threading.py"):
        shutil.copy(stdlib / name, tmp_path / name)
    result = lint_tree(tmp_path, select=THR)
    assert not result.errors
    assert [f.to_json() for f in result.findings] == []

    index = ProjectIndex(tmp_path)
    socketserver = index.module_for_path(tmp_path / "socketserver.py")
    starts = thread_starts(index, socketserver.classes["ThreadingMixIn"])
    assert [s.body.node.name for s in starts] == ["process_request_thread"]
    pool = index.module_for_path(tmp_path / "concurrent" / "futures" / "thread.py")
    starts = thread_starts(index, pool.classes["ThreadPoolExecutor"])
    assert [s.body.node.name for s in starts] == ["_worker"]


# -- across classes and modules --------------------------------------------------------------------


def test_thread_started_by_a_base_class_in_another_module(tmp_path):
    """The base starts the thread and keeps it; the subclass's close() signals but never joins."""
    write_tree(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/base.py": """
                import threading

                class Service:
                    def __init__(self):
                        self._halt = threading.Event()
                        self._worker = threading.Thread(target=self._loop, daemon=True)
                        self._worker.start()

                    def _loop(self):
                        while not self._halt.is_set():
                            self.tick()
                            self._halt.wait(0.01)

                    def tick(self):
                        pass
            """,
            "svc/metrics.py": """
                from svc.base import Service

                class MetricsService(Service):
                    def close(self):
                        self._halt.set()
            """,
        },
    )
    result = lint_tree(tmp_path, select=["THR501"], paths=["svc/metrics.py"])
    [finding] = findings_of(result, "THR501")
    assert (finding.line, finding.column) == (5, 9)
    assert "`self._worker`" in finding.message

    fixed = lint_tree(tmp_path, select=["THR501"], paths=["svc/metrics.py"], fix=FixMode.SAFE)
    assert fixed.fixes_applied == 1
    assert (tmp_path / "svc/metrics.py").read_text().endswith(
        "        self._halt.set()\n        self._worker.join(timeout=5.0)\n"
    )


def test_signal_in_a_helper_called_by_stop_and_join_configured(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.zmqlint]\nthread-join-timeout = 1.5\n")
    write_tree(
        tmp_path,
        {
            "poller.py": """
                import signal
                import threading

                class Poller:
                    def __init__(self):
                        self.active = True
                        self.thread = threading.Thread(target=self.poll)
                        self.thread.start()
                        signal.signal(signal.SIGTERM, self.on_sigterm)

                    def poll(self):
                        while self.active:
                            pass

                    def on_sigterm(self, signum, frame):
                        self._halt()

                    def _halt(self):
                        self.active = False
            """
        },
    )
    from zmqlint.config import Config
    from zmqlint.runner import run

    result = run([str(tmp_path / "poller.py")], Config.discover([tmp_path]), fix_mode=FixMode.SAFE)
    assert result.fixes_applied == 1
    assert "        self.active = False\n        self.thread.join(timeout=1.5)\n" in (tmp_path / "poller.py").read_text()


PRECISION_SILENT = {
    # A stop path that joins through a loop over its threads.
    "loop_join.py": """
        import threading

        class Pool:
            def __init__(self):
                self._stop = threading.Event()
                self._threads = [threading.Thread(target=self._work) for _ in range(3)]

            def _work(self):
                while not self._stop.is_set():
                    self._stop.wait(0.1)

            def shutdown(self):
                self._stop.set()
                for thread in self._threads:
                    thread.join()
    """,
    # Locked helpers: the lock is taken by every caller.
    "locked_helper.py": """
        import threading
        import time

        class Cache:
            def __init__(self):
                self._lock = threading.Lock()
                self._entries = {}
                self._thread = threading.Thread(target=self._expire, daemon=True)

            def _expire(self):
                while True:
                    with self._lock:
                        self._drop_stale_locked(time.monotonic())
                    time.sleep(0.05)
                    if not self._entries:
                        return

            def _drop_stale_locked(self, now):
                for key in [k for k, t in self._entries.items() if t < now]:
                    del self._entries[key]

            def put(self, key, expires_at):
                with self._lock:
                    self._entries[key] = expires_at

            def keys(self):
                with self._lock:
                    return [k for k in self._entries]
    """,
    # An asyncio task: cancelled at its awaits, not a thread.
    "async_task.py": """
        import asyncio

        class Heartbeat:
            def start(self):
                self.task = asyncio.create_task(self._beat())

            async def _beat(self):
                while True:
                    await asyncio.sleep(1.0)

            def stop(self):
                self.task.cancel()
    """,
    # stop() clears a "data ready" event the thread only waits on: not a stop signal.
    "clear_not_a_signal.py": """
        import threading

        class Feeder:
            def __init__(self):
                self._closing = False
                self._ready = threading.Event()
                self._thread = threading.Thread(target=self._feed, daemon=True)
                self._thread.start()

            def _feed(self):
                while not self._closing:
                    if self._ready.wait(0.1):
                        self.push()

            def stop(self):
                self._ready.clear()
                self.busy = False
    """,
    # The cache is iterated only after the thread that pops from it was joined, or after a fork.
    "iterate_after_join.py": """
        import threading

        class Sharer:
            def __init__(self):
                self._cache = {}
                self._thread = None

            def register(self, key, value):
                self._cache[key] = value

            def _start(self):
                t = threading.Thread(target=self._serve, daemon=True)
                t.start()
                self._thread = t

            def _serve(self):
                while True:
                    key = self.next_key()
                    if key is None:
                        break
                    self._cache.pop(key)

            def stop(self, timeout=None):
                self._thread.join(timeout)
                for key, value in self._cache.items():
                    value.close()

            def _afterfork(self):
                for key, value in self._cache.items():
                    value.close()
    """,
    # A period taken from a parameter is the caller's choice.
    "configured_period.py": """
        import threading, time

        class Sweeper:
            def __init__(self, period):
                self.period = period
                self.items = {}
                self._stop = threading.Event()
                self._lock = threading.Lock()

            def run(self):
                while not self._stop.wait(self.period):
                    with self._lock:
                        for k in [k for k, v in self.items.items() if v < time.time()]:
                            del self.items[k]
    """,
}


@pytest.mark.parametrize("name", sorted(PRECISION_SILENT))
def test_precision_silent_shapes(tmp_path, name):
    write_tree(tmp_path, {name: PRECISION_SILENT[name]})
    result = lint_tree(tmp_path, select=THR)
    assert not result.errors
    assert [f.to_json() for f in result.findings] == []


def test_every_thread_rule_declares_its_options():
    from zmqlint.rules import all_rules

    rules = all_rules()
    assert rules["THR501"].OPTIONS["thread-join-timeout"].default == 5.0
    assert rules["THR504"].OPTIONS["reaper-max-period"].default == 0.1
    for code in THR:
        assert rules[code].doc_sections()["Fix safety"]
        assert textwrap.dedent(rules[code].summary()).strip()
        assert re.fullmatch(r"[a-z-]+", rules[code].NAME)


def test_a_cleared_running_event_is_a_stop_signal(tmp_path):
    write_tree(
        tmp_path,
        {
            "server.py": """
                import threading

                class Server:
                    def __init__(self):
                        self._running = threading.Event()
                        self._thread = None

                    def start(self):
                        self._running.set()
                        self._thread = threading.Thread(target=self._serve)
                        self._thread.start()

                    def _serve(self):
                        while self._running.is_set():
                            self.poll()

                    def stop(self):
                        self._running.clear()
            """
        },
    )
    [finding] = findings_of(lint_tree(tmp_path, select=THR), "THR501")
    assert finding.line == 18
    lint_tree(tmp_path, select=["THR501"], fix=FixMode.SAFE)
    assert (tmp_path / "server.py").read_text().endswith(
        "        self._running.clear()\n        if self._thread is not None:\n            self._thread.join(timeout=5.0)\n"
    )
